# codegen tests; see tests/CMakeLists.txt and docs/codegen.md.
#   gradcheck_NAME   finite differences in double, every layer kind and option
#                    (tests/codegen/nets) and the real models    [gradcheck]
#   threads_NAME     1, 2 and 3 threads give bitwise-identical training [unit]
#   step_fused_NAME  the optimizer fused into backward == backward + step,
#                    bit for bit, fast and plain kernels       [unit]
#   grad_fast_NAME   in float, the fast kernels' gradients == the plain
#                    ones (5e-5), with their AVX-512 intrinsics and
#                    (grad_fast_portable_NAME) their portable twins  [unit]
#   tree_unit_NAME   batches of one image a chunk: the dense dW's register
#                    path == the generic chunk-tree loop, bit for bit [unit]
#   cc_COMPILER_NAME generated code compiles with -std=c11 -Wall -Wextra
#                    -Wshadow -Werror under gcc and clang, float and double,
#                    with and without OpenMP (compile.sh)         [unit]
# The golden tests of generated/ come from cnn_add_model (models/CMakeLists.txt).
set(CNN_CODEGEN_DIR ${CMAKE_CURRENT_SOURCE_DIR}/codegen)
set(CNN_CODEGEN_OUT ${CMAKE_CURRENT_BINARY_DIR}/codegen)
file(MAKE_DIRECTORY ${CNN_CODEGEN_OUT})

# NAME.c / NAME.h in the build tree, from a .cnn file.
function(cnn_codegen_emit NAME SRC)
  add_custom_command(
    OUTPUT ${CNN_CODEGEN_OUT}/${NAME}.c ${CNN_CODEGEN_OUT}/${NAME}.h
    COMMAND cnnc ${SRC} -o ${CNN_CODEGEN_OUT}
    DEPENDS cnnc ${SRC}
    COMMENT "cnnc ${NAME}.cnn (codegen tests)"
    VERBATIM)
endfunction()

set(CNN_GC_NETS gc_conv gc_conv2 gc_pool gc_pool2 gc_convpool gc_convpool2 gc_bn gc_bnpool gc_act gc_dropout gc_every first3
    gc_frozen)
foreach(net ${CNN_GC_NETS})
  cnn_codegen_emit(${net} ${CNN_CODEGEN_DIR}/nets/${net}.cnn)
endforeach()
cnn_codegen_emit(fruit ${PROJECT_SOURCE_DIR}/models/fruit.cnn)
cnn_codegen_emit(deep ${PROJECT_SOURCE_DIR}/models/deep.cnn)
cnn_codegen_emit(fashion ${PROJECT_SOURCE_DIR}/models/fashion.cnn)

# gradcheck_NAME BATCH SAMPLES: the generated file and the harness in double,
# once with the fast kernels and once with the plain ones (gradcheck_ref_NAME,
# -DCNN_REFERENCE_KERNELS).
function(cnn_codegen_gradcheck NAME BATCH SAMPLES)
  foreach(variant gradcheck gradcheck_ref)
    set(t ${variant}_${NAME})
    add_executable(${t} ${CNN_CODEGEN_DIR}/gradcheck.c ${CNN_CODEGEN_OUT}/${NAME}.c)
    target_compile_definitions(${t} PRIVATE CNN_REAL=double MODEL=${NAME}_model)
    if(variant STREQUAL "gradcheck_ref")
      target_compile_definitions(${t} PRIVATE CNN_REFERENCE_KERNELS)
    endif()
    target_include_directories(${t} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
    target_compile_options(${t} PRIVATE ${CNNC_WARNINGS})
    target_link_libraries(${t} PRIVATE OpenMP::OpenMP_C m)
    add_test(NAME ${t} COMMAND ${t} ${BATCH} ${SAMPLES})
    # One thread: the result does not depend on it (threads_ tests), and
    # OpenMP's spinning threads crawl when ctest -j oversubscribes the cores.
    set_tests_properties(${t} PROPERTIES LABELS "gradcheck" ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endfunction()

function(cnn_codegen_threads NAME BATCH STEPS)
  add_executable(threads_${NAME} ${CNN_CODEGEN_DIR}/threads.c ${CNN_CODEGEN_DIR}/harness.c ${CNN_CODEGEN_OUT}/${NAME}.c)
  target_compile_definitions(threads_${NAME} PRIVATE MODEL=${NAME}_model)
  target_include_directories(threads_${NAME} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(threads_${NAME} PRIVATE ${CNNC_WARNINGS})
  target_compile_options(threads_${NAME} PRIVATE ${CNN_MODEL_C_FLAGS})
  target_link_libraries(threads_${NAME} PRIVATE OpenMP::OpenMP_C m)
  add_test(NAME threads_${NAME} COMMAND threads_${NAME} ${BATCH} ${STEPS})
  set_tests_properties(threads_${NAME} PROPERTIES LABELS "unit" ENVIRONMENT "OMP_WAIT_POLICY=passive")
endfunction()

# Batch 13: larger than the fast kernels' image tiles (8 in dense forward, 12
# in dense dx), and not a multiple of them, so full and partial tiles run.
foreach(net ${CNN_GC_NETS})
  cnn_codegen_gradcheck(${net} 13 24)
endforeach()
# Whole real networks: fewer samples per tensor (each evaluation is a full
# forward pass in double).
cnn_codegen_gradcheck(fruit 2 5)
cnn_codegen_gradcheck(deep 2 4)

foreach(net gc_bn gc_bnpool gc_dropout gc_every gc_convpool gc_convpool2 gc_frozen fruit deep)
  cnn_codegen_threads(${net} 13 3)
endforeach()

# The generated code compiles cleanly with gcc and clang (skipped, exit 77,
# when one is not installed).
# (gcc compiles every generated file with -Werror in the build already.)
foreach(pair gcc:fruit gcc:deep clang:fruit clang:deep clang:gc_every clang:gc_act clang:gc_convpool clang:gc_bnpool)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 compiler)
  list(GET pair 1 net)
  add_test(NAME cc_${compiler}_${net}
           COMMAND sh ${CNN_CODEGEN_DIR}/compile.sh ${compiler} ${CNN_RUNTIME_INCLUDE}
                   ${CNN_CODEGEN_OUT}/${net}.c)
  set_tests_properties(cc_${compiler}_${net} PROPERTIES LABELS "unit" SKIP_RETURN_CODE 77)
endforeach()

# The sources the cc_ tests compile must exist before they run.
add_custom_target(codegen_sources ALL DEPENDS
  ${CNN_CODEGEN_OUT}/fruit.c ${CNN_CODEGEN_OUT}/deep.c ${CNN_CODEGEN_OUT}/gc_every.c ${CNN_CODEGEN_OUT}/gc_act.c)

# `cnnc build` end to end: the runtime library must be built (default target).
add_test(NAME cnnc_build_fruit
         COMMAND sh ${CNN_CODEGEN_DIR}/build.sh $<TARGET_FILE:cnnc> ${PROJECT_SOURCE_DIR}/models/fruit.cnn)
set_tests_properties(cnnc_build_fruit PROPERTIES LABELS "e2e")

# step_fused_NAME: the generated file twice (fast kernels, and the plain ones
# with the model renamed), the harness and the runtime's step and optimizers.
function(cnn_codegen_step_fused NAME BATCH STEPS)
  set(t step_fused_${NAME})
  add_library(${t}_ref OBJECT ${CNN_CODEGEN_OUT}/${NAME}.c)
  target_compile_definitions(${t}_ref PRIVATE CNN_REFERENCE_KERNELS ${NAME}_model=${NAME}_model_ref)
  target_include_directories(${t}_ref PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t}_ref PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t}_ref PRIVATE OpenMP::OpenMP_C)
  add_executable(${t} ${CNN_CODEGEN_DIR}/step_fused.c ${CNN_CODEGEN_DIR}/harness.c ${CNN_CODEGEN_OUT}/${NAME}.c $<TARGET_OBJECTS:${t}_ref>)
  target_compile_definitions(${t} PRIVATE MODEL=${NAME}_model MODEL_REF=${NAME}_model_ref)
  target_include_directories(${t} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t} PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t} PRIVATE cnnrt OpenMP::OpenMP_C m)
  add_test(NAME ${t} COMMAND ${t} ${BATCH} ${STEPS})
  set_tests_properties(${t} PROPERTIES LABELS "unit" ENVIRONMENT "OMP_WAIT_POLICY=passive")
endfunction()
# infer_fold_NAME[_float]: inference with the batchnorms folded into the convs
# (fast kernels) vs the layers as written (the plain ones), in double and float.
# wino, deep and fashion fold into Winograd convs (emit_conv_winograd.c).
cnn_codegen_emit(fold ${CNN_CODEGEN_DIR}/nets/fold.cnn)
cnn_codegen_emit(wino ${CNN_CODEGEN_DIR}/nets/wino.cnn)
function(cnn_codegen_infer_fold NAME REAL)
  set(t infer_fold_${NAME}_${REAL})
  if(ARGN STREQUAL "nowino")
    set(t infer_fold_nowino_${NAME}_${REAL})
  endif()
  add_library(${t}_ref OBJECT ${CNN_CODEGEN_OUT}/${NAME}.c)
  target_compile_definitions(${t}_ref PRIVATE CNN_REAL=${REAL} CNN_REFERENCE_KERNELS ${NAME}_model=${NAME}_model_ref)
  target_include_directories(${t}_ref PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t}_ref PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t}_ref PRIVATE OpenMP::OpenMP_C)
  add_executable(${t} ${CNN_CODEGEN_DIR}/infer_fold.c ${CNN_CODEGEN_OUT}/${NAME}.c $<TARGET_OBJECTS:${t}_ref>)
  target_compile_definitions(${t} PRIVATE CNN_REAL=${REAL} MODEL=${NAME}_model MODEL_REF=${NAME}_model_ref)
  if(ARGN STREQUAL "nowino")
    target_compile_definitions(${t} PRIVATE CNN_NO_WINOGRAD)
  endif()
  target_include_directories(${t} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t} PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t} PRIVATE OpenMP::OpenMP_C m)
  add_test(NAME ${t} COMMAND ${t} 5)
  set_tests_properties(${t} PROPERTIES LABELS "unit;parity")
endfunction()
foreach(net fold wino gc_bnpool deep fashion)
  cnn_codegen_infer_fold(${net} double)
  cnn_codegen_infer_fold(${net} float)
endforeach()
# infer_fold_nowino_NAME_float: the same with -DCNN_NO_WINOGRAD, the direct
# kernels the Winograd ones replace (the twin is compiled and held to the oracle).
foreach(net wino deep fashion)
  cnn_codegen_infer_fold(${net} float nowino)
endforeach()

cnn_codegen_step_fused(fruit 5 3)
cnn_codegen_step_fused(fashion 7 3)

# grad_fast_NAME: in float, the fast kernels' gradients vs the plain ones
# (the gradient checks run in double, where no intrinsics are compiled);
# grad_fast_portable_NAME: the same with -DCNN_PORTABLE_KERNELS, the
# intrinsics' portable twins; grad_fast_nowino_NAME: with -DCNN_NO_WINOGRAD,
# the direct kernels where Winograd runs.
foreach(net first first2 wino4_pool) # first3 is a gradient-check net too (above)
  cnn_codegen_emit(${net} ${CNN_CODEGEN_DIR}/nets/${net}.cnn)
endforeach()
function(cnn_codegen_grad_fast NAME)
  foreach(variant grad_fast grad_fast_portable grad_fast_nowino)
    set(t ${variant}_${NAME})
    add_library(${t}_ref OBJECT ${CNN_CODEGEN_OUT}/${NAME}.c)
    target_compile_definitions(${t}_ref PRIVATE CNN_REFERENCE_KERNELS ${NAME}_model=${NAME}_model_ref)
    target_include_directories(${t}_ref PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
    target_compile_options(${t}_ref PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
    target_link_libraries(${t}_ref PRIVATE OpenMP::OpenMP_C)
    add_executable(${t} ${CNN_CODEGEN_DIR}/grad_fast.c ${CNN_CODEGEN_DIR}/harness.c ${CNN_CODEGEN_OUT}/${NAME}.c $<TARGET_OBJECTS:${t}_ref>)
    target_compile_definitions(${t} PRIVATE MODEL=${NAME}_model MODEL_REF=${NAME}_model_ref)
    if(variant STREQUAL "grad_fast_portable")
      target_compile_definitions(${t} PRIVATE CNN_PORTABLE_KERNELS)
    endif()
    if(variant STREQUAL "grad_fast_nowino")
      target_compile_definitions(${t} PRIVATE CNN_NO_WINOGRAD)
    endif()
    target_include_directories(${t} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
    target_compile_options(${t} PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
    target_link_libraries(${t} PRIVATE OpenMP::OpenMP_C m)
    add_test(NAME ${t} COMMAND ${t} 5)
    set_tests_properties(${t} PROPERTIES LABELS "unit;parity" ENVIRONMENT "OMP_NUM_THREADS=2")
  endforeach()
endfunction()
foreach(net fruit first first2 first3 deep wino4_pool)
  cnn_codegen_grad_fast(${net})
endforeach()

# tree_unit_NAME: batches cut one image a chunk (the trainer's batch of 32)
# take the dense dW's register path for the chunk tree's lowest level; its
# gradients must equal the generic loop's (-DCNN_GENERIC_TREE) bit for bit.
function(cnn_codegen_tree_unit NAME)
  set(t tree_unit_${NAME})
  add_library(${t}_generic OBJECT ${CNN_CODEGEN_OUT}/${NAME}.c)
  target_compile_definitions(${t}_generic PRIVATE CNN_GENERIC_TREE ${NAME}_model=${NAME}_model_generic)
  target_include_directories(${t}_generic PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t}_generic PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t}_generic PRIVATE OpenMP::OpenMP_C)
  add_executable(${t} ${CNN_CODEGEN_DIR}/tree_unit.c ${CNN_CODEGEN_DIR}/harness.c ${CNN_CODEGEN_OUT}/${NAME}.c $<TARGET_OBJECTS:${t}_generic>)
  target_compile_definitions(${t} PRIVATE MODEL=${NAME}_model MODEL_GENERIC=${NAME}_model_generic)
  target_include_directories(${t} PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
  target_compile_options(${t} PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  target_link_libraries(${t} PRIVATE OpenMP::OpenMP_C m)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS "unit" ENVIRONMENT "OMP_NUM_THREADS=2")
endfunction()
foreach(net fruit deep gc_act gc_dropout)
  cnn_codegen_tree_unit(${net})
endforeach()

# emit_hashes: the C and PyTorch output for every valid .cnn in the tree and
# 40 seeded random networks hash as committed in emit_hashes.txt (a
# refactoring of the compiler keeps them; a change of generated text updates
# the file in the same commit)                                      [golden]
add_test(NAME emit_hashes
         COMMAND bash ${CNN_CODEGEN_DIR}/emit_hashes.sh $<TARGET_FILE:cnnc> $<TARGET_FILE:gen_random_cnn>
                 ${CNN_CODEGEN_DIR}/emit_hashes.txt)
set_tests_properties(emit_hashes PROPERTIES LABELS "golden")
