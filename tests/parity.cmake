# Parity and oracle tests (tests/parity/); see docs/testing.md.
#   test_reference  the reference engine checked by hand values and finite
#                   differences, compiled in double        [gradcheck, unit]
#   test_init       Keras-style initialisation              [unit]
set(CNN_PARITY_DIR ${CMAKE_CURRENT_SOURCE_DIR}/parity)
set(CNN_RUNTIME_DIR ${PROJECT_SOURCE_DIR}/runtime)

# The oracle in double: reference.c and init.c compiled into the test itself
# with CNN_REAL=double (libcnnrt is float).
add_executable(test_reference
  ${CNN_PARITY_DIR}/test_reference.c ${CNN_PARITY_DIR}/gradcheck_util.c ${CNN_PARITY_DIR}/model_builder.c
  ${CNN_RUNTIME_DIR}/reference.c ${CNN_RUNTIME_DIR}/init.c)
target_compile_definitions(test_reference PRIVATE CNN_REAL=double)
target_include_directories(test_reference PRIVATE ${CNN_RUNTIME_DIR} ${CNN_PARITY_DIR})
target_compile_options(test_reference PRIVATE ${CNNC_WARNINGS})
target_link_libraries(test_reference PRIVATE m)
add_test(NAME reference_gradcheck COMMAND test_reference)
set_tests_properties(reference_gradcheck PROPERTIES LABELS "gradcheck;unit")

add_executable(test_init ${CNN_PARITY_DIR}/test_init.c ${CNN_PARITY_DIR}/model_builder.c ${CNN_RUNTIME_DIR}/init.c)
target_include_directories(test_init PRIVATE ${CNN_RUNTIME_DIR} ${CNN_PARITY_DIR})
target_compile_options(test_init PRIVATE ${CNNC_WARNINGS})
target_link_libraries(test_init PRIVATE m)
add_test(NAME init_unit COMMAND test_init)
set_tests_properties(init_unit PROPERTIES LABELS "unit")
