# Installation: `cmake --install BUILD --prefix PREFIX` and the Debian
# package (`cpack -G DEB` in BUILD). Included last from the top level.
#
#   PREFIX/bin/cnnc
#   PREFIX/include/cnnc/        cnn_model.h, cnn_trainer.h, cnn_rng.h: what generated code includes
#   PREFIX/lib/libcnnrt.a       the runtime
#   PREFIX/lib/cmake/cnnc/      find_package(cnnc): cnnc::cnnc, cnnc::cnnrt, cnn_add_model()
#   PREFIX/lib/pkgconfig/cnnrt.pc
#   PREFIX/share/cnnc/          `cnnc compare`'s scripts; reference/: the generic reference
#                               engine's sources, compiled per model by the comparison;
#                               examples/: the models/*.cnn networks
#   PREFIX/share/doc/cnnc/      README.md and docs/
#   PREFIX/share/man/man1/      cnnc.1, cnnc-trainer.1
#
# Relocatable: cnnc finds the runtime relative to its own executable
# (compiler/locate.h), the CMake package and cnnrt.pc relative to their own
# files, so the prefix can be moved after installation.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CNNC_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/cnnc)
set(CNNC_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/cnnc)
set(CNNC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cnnc)

# The installed layout as cnnc sees it: paths relative to PREFIX/bin.
function(cnnc_relative_to_bindir out dir)
  if(IS_ABSOLUTE "${dir}" OR IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
    message(FATAL_ERROR "cnnc installs relocatably: give CMAKE_INSTALL_BINDIR, LIBDIR, INCLUDEDIR and DATADIR "
                        "relative to the prefix (got ${dir})")
  endif()
  file(RELATIVE_PATH rel "/PREFIX/${CMAKE_INSTALL_BINDIR}" "/PREFIX/${dir}")
  set(${out} "${rel}" PARENT_SCOPE)
endfunction()
cnnc_relative_to_bindir(rel_include ${CNNC_INSTALL_INCLUDEDIR})
cnnc_relative_to_bindir(rel_lib ${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:cnnrt>)
cnnc_relative_to_bindir(rel_data ${CNNC_INSTALL_DATADIR})
target_compile_definitions(cnnc PRIVATE
  CNNC_REL_INCLUDE="${rel_include}" CNNC_REL_LIBRARY="${rel_lib}" CNNC_REL_DATA="${rel_data}")

# The compiler, the runtime and the headers generated code includes.
install(TARGETS cnnc EXPORT cnncTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS cnnrt EXPORT cnncTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CNNC_INSTALL_INCLUDEDIR})
# The runtime's MPI backend, beside libcnnrt.a, for
# `cnnc build --mpi` (docs/distributed.md); built only where MPI is.
if(TARGET cnnrt_mpi)
  install(TARGETS cnnrt_mpi ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(FILES ${CNN_RUNTIME_INCLUDE}/cnn_model.h ${CNN_RUNTIME_INCLUDE}/cnn_trainer.h ${CNN_RUNTIME_INCLUDE}/cnn_rng.h
        DESTINATION ${CNNC_INSTALL_INCLUDEDIR})

# The CMake package.
install(EXPORT cnncTargets NAMESPACE cnnc:: DESTINATION ${CNNC_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cnncConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cnncConfig.cmake
                              INSTALL_DESTINATION ${CNNC_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cnncConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cnncConfig.cmake ${PROJECT_BINARY_DIR}/cnncConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/CnnModel.cmake
        DESTINATION ${CNNC_INSTALL_CMAKEDIR})

# pkg-config: the prefix is found from the .pc file's own folder.
file(RELATIVE_PATH CNNC_PC_TO_PREFIX "/PREFIX/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/PREFIX")
string(REGEX REPLACE "/$" "" CNNC_PC_TO_PREFIX "${CNNC_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/cnnrt.pc.in ${PROJECT_BINARY_DIR}/cnnrt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cnnrt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# `cnnc compare`: the scripts, and the reference engine's sources with the
# headers they include (the comparison compiles them for each model).
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/compare.py ${PROJECT_SOURCE_DIR}/scripts/compare_e2e.py
        DESTINATION ${CNNC_INSTALL_DATADIR})
install(FILES ${PROJECT_SOURCE_DIR}/scripts/compare_svg.py ${PROJECT_SOURCE_DIR}/scripts/train_pytorch.py
        DESTINATION ${CNNC_INSTALL_DATADIR})
install(FILES ${PROJECT_SOURCE_DIR}/tests/bench/bench_reference.c
              ${CNN_RUNTIME_DIR}/reference/reference.c ${CNN_RUNTIME_DIR}/reference/cnn_reference.h
              ${CNN_RUNTIME_DIR}/core/cnn_init.h ${CNN_RUNTIME_DIR}/core/cnn_util.h ${CNN_RUNTIME_DIR}/train/cnn_optim.h
        DESTINATION ${CNNC_INSTALL_DATADIR}/reference)
file(GLOB cnnc_example_models ${PROJECT_SOURCE_DIR}/models/*.cnn)
install(FILES ${cnnc_example_models} DESTINATION ${CNNC_INSTALL_DATADIR}/examples)

# Documentation and man pages.
file(GLOB cnnc_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${cnnc_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/man/cnnc.1 ${PROJECT_SOURCE_DIR}/man/cnnc-trainer.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# ---- the Debian package: cpack -G DEB (in the build folder) ----------------
# Depends: what `cnnc build` runs and links at the user's (a C compiler with
# OpenMP, the C library's and the image libraries' development files);
# Python 3 runs `cnnc compare`, PyTorch adds its PyTorch row.
set(CPACK_PACKAGE_NAME cnnc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "compiler from a small CNN language to specialized C trainers")
set(CPACK_PACKAGE_DESCRIPTION "cnnc compiles a convolutional network written in the .cnn language into C
specialized for that network (forward and backward passes, the optimizer
update) and links it with its runtime (JPEG/PNG loading, augmentation,
metrics, checkpoints) into one standalone trainer binary. It also emits the
network as a PyTorch module and compares the trainer's speed with PyTorch's
(cnnc compare).")
if(NOT CPACK_PACKAGE_CONTACT)
  set(CPACK_PACKAGE_CONTACT "cnnc maintainers <cnnc@localhost>")   # -DCPACK_PACKAGE_CONTACT=... for a real one
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, gcc, libc6-dev, libgomp1, libjpeg62-turbo-dev | libjpeg-dev, libpng-dev, zlib1g-dev")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, cmake, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-torch, python3-torchvision")
set(CPACK_GENERATOR DEB)
# libcnnrt.a is compiled with -march=native when CNNC_NATIVE is on: the
# package then runs only on CPUs like this one. cpack says so.
if(CNNC_NATIVE)
  set(CNNC_PACKAGE_NATIVE 1)
else()
  set(CNNC_PACKAGE_NATIVE 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/CPackOptions.cmake.in ${PROJECT_BINARY_DIR}/CPackOptions.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/CPackOptions.cmake)
include(CPack)
