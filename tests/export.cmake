# cnnc export tests; see tests/export/export_test.py and docs/deploy.md.
#   export_parity_NAME   train NAME one epoch on drawn images, export it,
#                        compile the file (gcc and clang, AVX-512 and portable
#                        kernels, -std=c99 -pedantic -Wall -Wextra -Werror),
#                        nm -u, and NAME_predict == `NAME predict --json` on
#                        gray/RGB/RGBA PNGs of several sizes (1e-5)   [e2e parity]
#                        (fruit: gcc's AVX-512 build by default, the other
#                        builds under export_parity_fruit_all         [slow])
#   export_parity_wino4  the same for tests/export/wino4.cnn: every pass of
#                        Winograd F(4x4, 3x3) (emit_conv_winograd4.c), with
#                        edge tiles, checked to be the exported kernel  [e2e parity]
#   export_parity_fewchan  the same for tests/export/fewchan.cnn: the export's
#                        own kernels (emit_conv_few.c with 1 and 4 input
#                        channels, odd sizes; emit_dense_one.c's sparse
#                        variant), all four builds                     [e2e parity]
#   export_refuse        weights of another network, missing/misshapen/F16/
#                        extra tensors, class count, corrupt file: refused [unit]
#   export_wasm, export_wasm_wino4  allkinds.cnn's and wino4.cnn's exports
#                        compile for wasm32 with clang -ffreestanding -nostdlib
#                        (skip without the target)                     [unit]
#   export_example       docs/deploy.md's example program, built and run [e2e]
#   export_onnx_bench_NAME  `cnnc compare NAME.cnn --onnx-only` (fruit, deep,
#                        fashion): cnnc export vs ONNX Runtime (onnxruntime-
#                        node, npm-installed into build/ort), outputs within
#                        1e-5; speed is reported, not asserted (skips
#                        without torch, node or npm)                   [bench]
set(CNN_EXPORT_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/export)
set(CNN_EXPORT_WORK ${CMAKE_CURRENT_BINARY_DIR}/export_work)
file(MAKE_DIRECTORY ${CNN_EXPORT_WORK})

# The test network with every layer kind and preprocessing step, and its trainer.
cnn_add_model(allkinds ${CNN_EXPORT_TESTS}/allkinds.cnn)
# The one for Winograd F(4x4, 3x3), with edge tiles in each of its passes.
cnn_add_model(wino4 ${CNN_EXPORT_TESTS}/wino4.cnn)
# The one for the export's few-input-channel conv and sparse dense input.
cnn_add_model(fewchan ${CNN_EXPORT_TESTS}/fewchan.cnn)

if(SYSTEM_PYTHON3)
  set(CNN_EXPORT_RUN ${SYSTEM_PYTHON3} ${CNN_EXPORT_TESTS}/export_test.py --cnnc $<TARGET_FILE:cnnc>
      --work ${CNN_EXPORT_WORK})
  # export_parity_NAME TRAINER CNN CLASSES LABELS COMPILERS [export_test.py options]
  function(cnn_export_parity NAME TRAINER CNN CLASSES LABELS COMPILERS)
    add_test(NAME export_parity_${NAME}
             COMMAND ${CNN_EXPORT_RUN} parity --tag parity_${NAME} --trainer $<TARGET_FILE:${TRAINER}>
                     --cnn ${CNN} --classes ${CLASSES} --compilers ${COMPILERS} ${ARGN})
    set_tests_properties(export_parity_${NAME} PROPERTIES LABELS "${LABELS}" SKIP_RETURN_CODE 77 TIMEOUT 900
                         ENVIRONMENT "OMP_NUM_THREADS=1")
  endfunction()
  set(CNN_EXPORT_ALL "gcc/native,gcc/portable,clang/native,clang/portable")
  cnn_export_parity(fruit fruit ${CMAKE_SOURCE_DIR}/models/fruit.cnn 2 "e2e;parity" "gcc/native"
                    "--expect=1:(cnnc export: emit_conv_few.c)" "--expect=1:one image, the rows of its nonzero inputs"
                    --expect fruit_conv2d_2_winograd4_forward)
  cnn_export_parity(fruit_all fruit ${CMAKE_SOURCE_DIR}/models/fruit.cnn 2 "slow" ${CNN_EXPORT_ALL})
  cnn_export_parity(deep deep ${CMAKE_SOURCE_DIR}/models/deep.cnn 2 "e2e;parity" ${CNN_EXPORT_ALL})
  cnn_export_parity(fashion fashion ${CMAKE_SOURCE_DIR}/models/fashion.cnn 10 "e2e;parity" ${CNN_EXPORT_ALL})
  cnn_export_parity(allkinds allkinds ${CNN_EXPORT_TESTS}/allkinds.cnn 3 "e2e;parity" ${CNN_EXPORT_ALL})
  cnn_export_parity(wino4 wino4 ${CNN_EXPORT_TESTS}/wino4.cnn 3 "e2e;parity" ${CNN_EXPORT_ALL}
                    --expect wino4_conv2d_2_winograd4_forward --expect wino4_conv2d_3_winograd4_forward
                    --expect wino4_conv2d_4_winograd4_forward --expect wino4_conv2d_5_winograd4_forward)
  cnn_export_parity(fewchan fewchan ${CNN_EXPORT_TESTS}/fewchan.cnn 3 "e2e;parity" ${CNN_EXPORT_ALL}
                    "--expect=2:(cnnc export: emit_conv_few.c)" "--expect=1:one image, the rows of its nonzero inputs")

  add_test(NAME export_refuse
           COMMAND ${CNN_EXPORT_RUN} refuse --trainer $<TARGET_FILE:allkinds> --cnn ${CNN_EXPORT_TESTS}/allkinds.cnn)
  add_test(NAME export_wasm
           COMMAND ${CNN_EXPORT_RUN} wasm --trainer $<TARGET_FILE:allkinds> --cnn ${CNN_EXPORT_TESTS}/allkinds.cnn)
  add_test(NAME export_wasm_wino4
           COMMAND ${CNN_EXPORT_RUN} wasm --tag wasm_wino4 --trainer $<TARGET_FILE:wino4>
                   --cnn ${CNN_EXPORT_TESTS}/wino4.cnn)
  add_test(NAME export_example
           COMMAND ${CNN_EXPORT_RUN} example --trainer $<TARGET_FILE:fruit> --doc ${CMAKE_SOURCE_DIR}/docs/deploy.md)
  set_tests_properties(export_refuse export_wasm export_wasm_wino4 PROPERTIES LABELS "unit" SKIP_RETURN_CODE 77
                       ENVIRONMENT "OMP_NUM_THREADS=1")
  set_tests_properties(export_example PROPERTIES LABELS "e2e" SKIP_RETURN_CODE 77 DEPENDS export_parity_fruit
                       FIXTURES_REQUIRED export_fruit ENVIRONMENT "OMP_NUM_THREADS=1")
  set_tests_properties(export_parity_fruit PROPERTIES FIXTURES_SETUP export_fruit)

  # ONNX Runtime from the npm registry into the build tree (--ort-install runs
  # `npm install --ignore-scripts onnxruntime-node` in build/ort when missing).
  foreach(m fruit deep fashion)
    add_test(NAME export_onnx_bench_${m}
             COMMAND $<TARGET_FILE:cnnc> compare ${CMAKE_SOURCE_DIR}/models/${m}.cnn --onnx-only --seconds 1
                     --repeat 3 --ort-dir ${CMAKE_BINARY_DIR}/ort --ort-install)
    set_tests_properties(export_onnx_bench_${m} PROPERTIES LABELS "bench" TIMEOUT 900 RUN_SERIAL TRUE
                         SKIP_REGULAR_EXPRESSION "not timed: ")
  endforeach()
endif()
