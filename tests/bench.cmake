# Benchmark tools and tests (tests/bench/; see docs/benchmarks.md).
#   bench_reference_NAME   the generic reference engine timed on model NAME
#                          (tests/bench/bench_reference.c linked with the
#                          model library NAME_model); scripts/compare.py
#                          compiles the same file for any .cnn
#   bench_reference_smoke  runs bench_reference_compare_tiny once      [unit]
#   compare_smoke          scripts/compare.py on a tiny network, very short
#                          run: one table with the three engines, valid
#                          --json; no timing is asserted               [e2e]
#   compare_bench          the same with the full PyTorch search and
#                          longer phases                               [bench]
#   compare_e2e_bench      scripts/compare_e2e.py, 2 epochs on fruits-dev [bench]
# The compare tests skip (77) when /usr/bin/python3 has no torch (and the
# end-to-end one when fruits-dev is missing).
set(CNN_BENCH_DIR ${CMAKE_CURRENT_SOURCE_DIR}/bench)

cnn_add_model(compare_tiny ${CNN_BENCH_DIR}/compare_tiny.cnn)
foreach(m compare_tiny fruit deep fashion)
  if(TARGET ${m}_model)
    add_executable(bench_reference_${m} ${CNN_BENCH_DIR}/bench_reference.c)
    target_compile_definitions(bench_reference_${m} PRIVATE BENCH_MODEL=${m}_model)
    target_compile_options(bench_reference_${m} PRIVATE ${CNNC_WARNINGS})
    target_link_libraries(bench_reference_${m} PRIVATE ${m}_model cnnref)
  endif()
endforeach()

add_test(NAME bench_reference_smoke COMMAND bench_reference_compare_tiny --batch 4 --seconds 0 --json)
set_tests_properties(bench_reference_smoke PROPERTIES LABELS "unit"
                     PASS_REGULAR_EXPRESSION "\"train_images_per_s\": [0-9]")

# `cnnc compare` as a user runs it: --help, a quick comparison of the tiny
# network with --json and --svg, again without PyTorch, a missing file, and
# the end-to-end option (--data) for one epoch on a generated folder
# (compare_cli.py). Runs with or without torch.                       [e2e]
if(SYSTEM_PYTHON3)
  add_test(NAME cnnc_compare
           COMMAND ${SYSTEM_PYTHON3} ${CNN_BENCH_DIR}/compare_cli.py $<TARGET_FILE:cnnc> ${CNN_BENCH_DIR}/compare_tiny.cnn
                   ${PROJECT_SOURCE_DIR}/tests/install/tiny.cnn $<TARGET_FILE:make_image_folder>)
  set_tests_properties(cnnc_compare PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

if(SYSTEM_PYTHON3)
  # compare.py builds with cnnc and libcnnrt of this build folder.
  add_test(NAME compare_smoke
           COMMAND ${SYSTEM_PYTHON3} ${CNN_BENCH_DIR}/compare_smoke.py ${PROJECT_SOURCE_DIR}/scripts/compare.py
                   ${CNN_BENCH_DIR}/compare_tiny.cnn ${CMAKE_BINARY_DIR}
                   --threads 2 --seconds 0.02 --search quick)
  set_tests_properties(compare_smoke PROPERTIES LABELS "e2e" SKIP_RETURN_CODE 77 TIMEOUT 300)
  add_test(NAME compare_bench
           COMMAND ${SYSTEM_PYTHON3} ${CNN_BENCH_DIR}/compare_smoke.py ${PROJECT_SOURCE_DIR}/scripts/compare.py
                   ${CNN_BENCH_DIR}/compare_tiny.cnn ${CMAKE_BINARY_DIR}
                   --threads 2 --seconds 0.3 --search full --all)
  set_tests_properties(compare_bench PROPERTIES LABELS "bench" SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()

# The end-to-end comparison on the real photos (2 epochs, 1 run): prints
# the three rows. Skips (77) without fruits-dev or torchvision.        [bench]
if(SYSTEM_PYTHON3)
  add_test(NAME compare_e2e_bench
           COMMAND ${SYSTEM_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/compare_e2e.py ${PROJECT_SOURCE_DIR}/models/fruit.cnn
                   ${CNNC_SHARED_DATA}/fruits-dev --epochs 2 --threads 2 --workers 0,1 --prefetch 2
                   --build-dir ${CMAKE_BINARY_DIR} --skip-missing)
  set_tests_properties(compare_e2e_bench PROPERTIES LABELS "bench" SKIP_RETURN_CODE 77 TIMEOUT 900
                       SKIP_REGULAR_EXPRESSION "compare_e2e: skipped"
                       PASS_REGULAR_EXPRESSION "cnnc trainer .*cnnc trainer --exact-resize .*PyTorch \\+ torchvision")
endif()
