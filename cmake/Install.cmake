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
#   PREFIX/share/doc/cnnc/      README.md, docs/, copyright, changelog.gz
#   PREFIX/share/man/man1/      cnnc.1.gz, cnnc-trainer.1.gz
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
              ${PROJECT_SOURCE_DIR}/scripts/compare_onnx.py ${PROJECT_SOURCE_DIR}/scripts/export_bench.c
              ${PROJECT_SOURCE_DIR}/scripts/ort_bench.js
        DESTINATION ${CNNC_INSTALL_DATADIR})
install(FILES ${PROJECT_SOURCE_DIR}/tests/bench/bench_reference.c
              ${CNN_RUNTIME_DIR}/reference/reference.c ${CNN_RUNTIME_DIR}/reference/cnn_reference.h
              ${CNN_RUNTIME_DIR}/reference/reference_layers.c ${CNN_RUNTIME_DIR}/reference/reference_layers.h
              ${CNN_RUNTIME_DIR}/core/cnn_init.h ${CNN_RUNTIME_DIR}/core/cnn_util.h ${CNN_RUNTIME_DIR}/train/cnn_optim.h
        DESTINATION ${CNNC_INSTALL_DATADIR}/reference)
file(GLOB cnnc_example_models ${PROJECT_SOURCE_DIR}/models/*.cnn)
install(FILES ${cnnc_example_models} DESTINATION ${CNNC_INSTALL_DATADIR}/examples)

# The package's maintainer (the Debian package's Maintainer field and its
# changelog's signature): -DCNNC_PACKAGE_MAINTAINER="Name <address>"; by
# default $DEBFULLNAME <$DEBEMAIL> as Debian's own tools take it, else the
# source tree's git user, else the project's placeholder.
if(NOT CNNC_PACKAGE_MAINTAINER)
  if(CPACK_PACKAGE_CONTACT)
    set(maintainer "${CPACK_PACKAGE_CONTACT}")
  elseif(DEFINED ENV{DEBFULLNAME} AND DEFINED ENV{DEBEMAIL})
    set(maintainer "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
  else()
    find_package(Git QUIET)
    if(GIT_EXECUTABLE)
      execute_process(COMMAND ${GIT_EXECUTABLE} config user.name WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                      OUTPUT_VARIABLE git_name OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      execute_process(COMMAND ${GIT_EXECUTABLE} config user.email WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                      OUTPUT_VARIABLE git_email OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
    if(git_name AND git_email)
      set(maintainer "${git_name} <${git_email}>")
    else()
      set(maintainer "cnnc maintainers <cnnc-maintainers@users.noreply.github.com>")
    endif()
  endif()
  set(CNNC_PACKAGE_MAINTAINER "${maintainer}" CACHE STRING
      "Maintainer of the Debian package (Name <address>)")
endif()
# Copyright holder and licence, for the package's copyright file.
string(TIMESTAMP year "%Y" UTC)
set(CNNC_COPYRIGHT "${year} the cnnc authors" CACHE STRING "Years and holder named in share/doc/cnnc/copyright")
set(CNNC_LICENSE "" CACHE STRING "Licence name for share/doc/cnnc/copyright (SPDX, e.g. MIT); empty: none granted")
set(CNNC_LICENSE_FILE "" CACHE FILEPATH "Licence text for share/doc/cnnc/copyright")

# Documentation, man pages, the copyright file and the changelog. Debian
# policy wants man pages and changelogs gzip-compressed with -9n (no name,
# no time stamp: the same bytes on every build); man(1) reads them either
# way, so every installation gets the compressed ones.
file(GLOB cnnc_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${cnnc_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

if(CNNC_LICENSE)
  set(CNNC_LICENSE_NAME "${CNNC_LICENSE}")
  if(CNNC_LICENSE_FILE)
    file(READ "${CNNC_LICENSE_FILE}" text)
    string(REGEX REPLACE "\n\n" "\n.\n" text "${text}")
    string(REGEX REPLACE "\n([^\n])" "\n \\1" text "${text}")
    set(CNNC_LICENSE_TEXT " ${text}")
  else()
    set(CNNC_LICENSE_TEXT " The licence named above (https://spdx.org/licenses/${CNNC_LICENSE}.html).")
  endif()
else()
  set(CNNC_LICENSE_NAME "none-granted")
  set(CNNC_LICENSE_TEXT " No licence has been granted by the copyright holders: all rights reserved.
 Set one with -DCNNC_LICENSE=SPDX-NAME -DCNNC_LICENSE_FILE=TEXT when configuring.")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/copyright.in ${PROJECT_BINARY_DIR}/package/copyright @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The changelog of a native Debian package (no Debian revision in its
# version): usr/share/doc/cnnc/changelog.gz. Dated by SOURCE_DATE_EPOCH when
# set (reproducible builds), else by the time of configuring.
string(TIMESTAMP CNNC_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${PROJECT_SOURCE_DIR}/cmake/changelog.in ${PROJECT_BINARY_DIR}/package/changelog @ONLY)

find_program(CNNC_GZIP gzip)
set(cnnc_compressed)
foreach(f man/cnnc.1 man/cnnc-trainer.1 package/changelog)
  if(f MATCHES "^man/")
    set(from ${PROJECT_SOURCE_DIR}/${f})
  else()
    set(from ${PROJECT_BINARY_DIR}/${f})
  endif()
  if(CNNC_GZIP)
    get_filename_component(name ${f} NAME)
    set(to ${PROJECT_BINARY_DIR}/package/gz/${name})
    add_custom_command(OUTPUT ${to}.gz
      COMMAND ${CMAKE_COMMAND} -E copy ${from} ${to}
      COMMAND ${CNNC_GZIP} -9nf ${to}
      DEPENDS ${from} VERBATIM)
    list(APPEND cnnc_compressed ${to}.gz)
    set(${name}_installed ${to}.gz)
  else()
    set(${name}_installed ${from})
  endif()
endforeach()
add_custom_target(cnnc_package_files ALL DEPENDS ${cnnc_compressed})
install(FILES ${cnnc.1_installed} ${cnnc-trainer.1_installed} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${changelog_installed} DESTINATION ${CMAKE_INSTALL_DOCDIR})

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
set(CPACK_PACKAGE_CONTACT "${CNNC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CNNC_PACKAGE_MAINTAINER}")
# Installed binaries stripped (Debian policy 10.1); control files 0644.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
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
