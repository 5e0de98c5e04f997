# data tests; see tests/CMakeLists.txt
# C tests of the data side (tests/data/): they make their own fixture images
# with libjpeg and libpng, build a small cnn_model by hand (no network runs),
# and link libcnnrt. Real-data tests skip (77) when the data is absent.
set(CNN_DATA_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/data)
add_library(cnn_data_fixtures STATIC ${CNN_DATA_TEST_DIR}/fixtures.c)
target_include_directories(cnn_data_fixtures PUBLIC ${CNN_DATA_TEST_DIR} ${CNN_RUNTIME_INCLUDES})
target_compile_options(cnn_data_fixtures PRIVATE ${CNNC_WARNINGS})
target_link_libraries(cnn_data_fixtures PUBLIC cnnrt JPEG::JPEG PNG::PNG m)

function(cnn_data_test name)
  add_executable(${name} ${CNN_DATA_TEST_DIR}/${name}.c)
  target_compile_options(${name} PRIVATE ${CNNC_WARNINGS})
  target_link_libraries(${name} PRIVATE cnn_data_fixtures)
endfunction()

cnn_data_test(test_decode)
add_test(NAME data_decode COMMAND test_decode)
set_tests_properties(data_decode PROPERTIES LABELS "unit")

cnn_data_test(test_transform)
add_test(NAME data_transform COMMAND test_transform)
set_tests_properties(data_transform PROPERTIES LABELS "unit")

cnn_data_test(test_dataset)
add_test(NAME data_dataset COMMAND test_dataset)
set_tests_properties(data_dataset PROPERTIES LABELS "unit")

# Real data: skipped (77) when absent.
cnn_data_test(test_realdata)
add_test(NAME data_fruits_dev COMMAND test_realdata fruits ${CNNC_SHARED_DATA}/fruits-dev)
add_test(NAME data_fashion_mnist COMMAND test_realdata fashion /usr/share/datasets/fashion-mnist)
set_tests_properties(data_fruits_dev data_fashion_mnist PROPERTIES LABELS "unit;e2e" SKIP_RETURN_CODE 77)

# Decode + resize parity with PIL + PyTorch on fruits-dev (skipped when absent).
add_executable(dump_images ${CNN_DATA_TEST_DIR}/dump_images.c)
target_compile_options(dump_images PRIVATE ${CNNC_WARNINGS})
target_link_libraries(dump_images PRIVATE cnn_data_fixtures)
if(SYSTEM_PYTHON3)
  add_test(NAME data_resize_parity
    COMMAND ${SYSTEM_PYTHON3} ${CNN_DATA_TEST_DIR}/parity_resize.py $<TARGET_FILE:dump_images>
            ${CNNC_SHARED_DATA}/fruits-dev ${CMAKE_CURRENT_BINARY_DIR}/data_parity)
  set_tests_properties(data_resize_parity PROPERTIES LABELS "parity" SKIP_RETURN_CODE 77)
endif()

# The data benchmark (label bench: not in the default run). See docs/data.md.
add_executable(bench_data ${CNN_DATA_TEST_DIR}/bench_data.c)
target_compile_options(bench_data PRIVATE ${CNNC_WARNINGS})
target_compile_definitions(bench_data PRIVATE CNNC_SHARED_DATA_DIR="${CNNC_SHARED_DATA}")
target_link_libraries(bench_data PRIVATE cnn_data_fixtures)
add_test(NAME data_bench COMMAND bench_data)
set_tests_properties(data_bench PROPERTIES LABELS "bench")


# A training run (models/fruit.cnn) on a folder of bad files made by the test.
add_executable(make_bad_folder ${CNN_DATA_TEST_DIR}/make_bad_folder.c)
target_compile_options(make_bad_folder PRIVATE ${CNNC_WARNINGS})
target_link_libraries(make_bad_folder PRIVATE cnn_data_fixtures)
add_test(NAME data_bad_files_run
  COMMAND sh ${CNN_DATA_TEST_DIR}/bad_run.sh $<TARGET_FILE:make_bad_folder> $<TARGET_FILE:fruit>
          ${CMAKE_CURRENT_BINARY_DIR}/data_bad_run)
set_tests_properties(data_bad_files_run PROPERTIES LABELS "e2e")
