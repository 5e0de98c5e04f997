# The installed cnnc (tests/install/, docs/install.md). Label `install`.
#   install_relocated      cmake --install into a temporary prefix, moved
#                          elsewhere: cnnc build of a .cnn in an empty folder,
#                          one epoch on a generated image folder, predict;
#                          the error once the headers are gone; cnnc export
#                          of the trained weights without them, compiled
#   install_cmake_project  a user's project with find_package(cnnc):
#                          cnn_add_model, the model embedded in a program of
#                          its own, the same through cnnrt.pc (pkg-config)
#   install_compare        the installed `cnnc compare`: table, --json, --svg
#   install_deb            cpack -G DEB, then the package's files and declared
#                          dependencies checked with dpkg-deb, and the
#                          unpacked package's cnnc building and training
#                          tiny.cnn                                  [slow]
#   install_deb_debian12   the package installed with apt-get into a fresh
#                          Debian 12 made by debootstrap (a chroot; the
#                          system cached under BUILD/tests/install/debian12),
#                          then cnnc build and one epoch of training in an
#                          empty folder there; needs root and the Debian
#                          mirror                                    [slow]
set(CNN_INSTALL_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/install)

add_executable(make_image_folder ${CNN_INSTALL_TEST_DIR}/make_image_folder.c)
target_compile_options(make_image_folder PRIVATE ${CNNC_WARNINGS})
target_link_libraries(make_image_folder PRIVATE cnn_data_fixtures)

foreach(mode relocated cmake compare)
  if(mode STREQUAL "cmake")
    set(name install_cmake_project)
  else()
    set(name install_${mode})
  endif()
  add_test(NAME ${name}
           COMMAND sh ${CNN_INSTALL_TEST_DIR}/install_test.sh ${mode} ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR} $<TARGET_FILE:make_image_folder>)
  set_tests_properties(${name} PROPERTIES LABELS "install" SKIP_RETURN_CODE 77 TIMEOUT 600)
endforeach()

add_test(NAME install_deb
         COMMAND sh ${CNN_INSTALL_TEST_DIR}/deb_test.sh ${CMAKE_CPACK_COMMAND} ${CMAKE_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:make_image_folder>)
set_tests_properties(install_deb PROPERTIES LABELS "install;slow" SKIP_RETURN_CODE 77 TIMEOUT 900)

add_test(NAME install_deb_debian12
         COMMAND sh ${CNN_INSTALL_TEST_DIR}/deb_debian12_test.sh ${CMAKE_CPACK_COMMAND} ${CMAKE_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:make_image_folder>)
set_tests_properties(install_deb_debian12 PROPERTIES LABELS "install;slow" SKIP_RETURN_CODE 77 TIMEOUT 2400)
