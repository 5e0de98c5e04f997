# Parity and oracle tests (tests/parity/); see docs/testing.md.
#   test_reference  the reference engine checked by hand values and finite
#                   differences, compiled in double        [gradcheck, unit]
#   test_init       Keras-style initialisation              [unit]
#   parity_random_N generated C vs the reference engine      [parity]
#   parity_torch_*  generated C and the oracle vs PyTorch     [parity]
set(CNN_PARITY_DIR ${CMAKE_CURRENT_SOURCE_DIR}/parity)

# The oracle in double: reference.c, reference_layers.c and init.c compiled into the test itself
# with CNN_REAL=double (libcnnrt is float).
add_executable(test_reference
  ${CNN_PARITY_DIR}/test_reference.c ${CNN_PARITY_DIR}/gradcheck_util.c ${CNN_PARITY_DIR}/model_builder.c
  ${CNN_RUNTIME_DIR}/reference/reference.c ${CNN_RUNTIME_DIR}/reference/reference_layers.c
  ${CNN_RUNTIME_DIR}/core/init.c ${CNN_RUNTIME_DIR}/core/util.c)
target_compile_definitions(test_reference PRIVATE CNN_REAL=double)
target_include_directories(test_reference PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_PARITY_DIR})
target_compile_options(test_reference PRIVATE ${CNNC_WARNINGS})
target_link_libraries(test_reference PRIVATE m)
add_test(NAME reference_gradcheck COMMAND test_reference)
set_tests_properties(reference_gradcheck PROPERTIES LABELS "gradcheck;unit")

add_executable(test_init ${CNN_PARITY_DIR}/test_init.c ${CNN_PARITY_DIR}/model_builder.c ${CNN_RUNTIME_DIR}/core/init.c)
target_include_directories(test_init PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_PARITY_DIR})
target_compile_options(test_init PRIVATE ${CNNC_WARNINGS})
target_link_libraries(test_init PRIVATE m)
add_test(NAME init_unit COMMAND test_init)
set_tests_properties(init_unit PROPERTIES LABELS "unit")

# ---- parity: generated C vs the reference engine on random networks --------
# gen_random_cnn writes a random valid network from a seed; for each seed the
# test compiles cnnc's C for it in double and in float32 with
# parity_random.c and compares logits, loss, dlogits, every gradient and the
# running statistics with the reference engine (run_random_parity.sh).
add_executable(gen_random_cnn ${CNN_PARITY_DIR}/gen_random_cnn.c)
target_include_directories(gen_random_cnn PRIVATE ${CNN_RUNTIME_INCLUDES})
target_compile_options(gen_random_cnn PRIVATE ${CNNC_WARNINGS})

# Flags for the C the parity scripts compile at test time (as cnnc build does).
set(CNN_PARITY_CFLAGS "-O2 ${OpenMP_C_FLAGS}")
if(CNNC_NATIVE)
  string(APPEND CNN_PARITY_CFLAGS " -march=native")
endif()
if(CNNC_SANITIZE)
  string(APPEND CNN_PARITY_CFLAGS " -fsanitize=address,undefined -fno-omit-frame-pointer")
endif()
set(CNN_PARITY_RANDOM_SEEDS 24 CACHE STRING "Random networks in the generated-vs-reference parity test")
foreach(seed RANGE 1 ${CNN_PARITY_RANDOM_SEEDS})
  add_test(NAME parity_random_${seed}
           COMMAND sh ${CNN_PARITY_DIR}/run_random_parity.sh $<TARGET_FILE:gen_random_cnn> $<TARGET_FILE:cnnc>
                   ${CMAKE_C_COMPILER} "${CNN_PARITY_CFLAGS}" ${CNN_RUNTIME_DIR} ${CNN_PARITY_DIR}
                   $<TARGET_FILE:cnnrt> ${seed} ${CMAKE_CURRENT_BINARY_DIR}/parity_random/${seed})
  set_tests_properties(parity_random_${seed} PROPERTIES LABELS parity TIMEOUT 180
                       ENVIRONMENT "OMP_NUM_THREADS=2")
endforeach()

# ---- parity: generated C (and the reference engine) vs PyTorch ---------------
# models/fruit.cnn and tests/parity/p*.cnn together use every layer kind and
# option. Skipped (77) when /usr/bin/python3 has no torch.
if(SYSTEM_PYTHON3)
  set(CNN_PARITY_PYTHON ${SYSTEM_PYTHON3})
else()
  set(CNN_PARITY_PYTHON /usr/bin/python3)
endif()
set(CNN_PARITY_NETS
  fruit ${PROJECT_SOURCE_DIR}/models/fruit.cnn
  p1_same_strides ${CNN_PARITY_DIR}/p1_same_strides.cnn
  p2_pools ${CNN_PARITY_DIR}/p2_pools.cnn
  p3_batchnorm_dropout ${CNN_PARITY_DIR}/p3_batchnorm_dropout.cnn
  p4_activations ${CNN_PARITY_DIR}/p4_activations.cnn
  p5_gap_head ${CNN_PARITY_DIR}/p5_gap_head.cnn
  fashion ${PROJECT_SOURCE_DIR}/models/fashion.cnn
  deep ${PROJECT_SOURCE_DIR}/models/deep.cnn)
list(LENGTH CNN_PARITY_NETS n_nets)
math(EXPR last "${n_nets} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET CNN_PARITY_NETS ${i} net_name)
  list(GET CNN_PARITY_NETS ${j} net_file)
  set(extra "")
  if(net_name STREQUAL "fruit")
    set(extra --batch 2) # 128x128 images: two keep the test short
  elseif(net_name STREQUAL "fashion" OR net_name STREQUAL "deep")
    # One step only: over 10 steps of these larger relu/maxpool networks a
    # pre-activation or pool tie within rounding of a kink eventually flips
    # between two correct implementations (see docs/testing.md).
    set(extra --batch 2 --steps 0)
  endif()
  add_test(NAME parity_torch_${net_name}
           COMMAND sh ${CNN_PARITY_DIR}/run_torch_parity.sh $<TARGET_FILE:cnnc> ${CMAKE_C_COMPILER}
                   "${CNN_PARITY_CFLAGS}" ${CNN_RUNTIME_DIR} ${CNN_PARITY_DIR} $<TARGET_FILE:cnnrt>
                   ${CNN_PARITY_PYTHON} ${net_file} ${CMAKE_CURRENT_BINARY_DIR}/parity_torch/${net_name} ${extra})
  set_tests_properties(parity_torch_${net_name} PROPERTIES LABELS parity SKIP_RETURN_CODE 77 TIMEOUT 300
                       ENVIRONMENT "OMP_NUM_THREADS=2")
endforeach()

# The reference engine alone against PyTorch (the .cnn read by cnnc's front
# end, no C emitter involved): the oracle's own semantics checked.
add_executable(parity_torch_reference ${CNN_PARITY_DIR}/parity_torch.c ${CNN_PARITY_DIR}/parity_io.c
               ${CNN_PARITY_DIR}/ir_model.c)
target_include_directories(parity_torch_reference PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_PARITY_DIR})
target_compile_options(parity_torch_reference PRIVATE ${CNNC_WARNINGS})
target_link_libraries(parity_torch_reference PRIVATE cnnc_front cnnref)
foreach(net p3_batchnorm_dropout p4_activations)
  add_test(NAME parity_torch_reference_${net}
           COMMAND sh ${CNN_PARITY_DIR}/run_torch_parity.sh --reference $<TARGET_FILE:parity_torch_reference>
                   $<TARGET_FILE:cnnc> ${CNN_PARITY_PYTHON} ${CNN_PARITY_DIR} ${CNN_PARITY_DIR}/${net}.cnn
                   ${CMAKE_CURRENT_BINARY_DIR}/parity_torch_reference_out/${net})
  set_tests_properties(parity_torch_reference_${net} PROPERTIES LABELS parity SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
