# Front-end tests: golden diagnostics and summaries, CLI contract, fuzz corpus replay.
set(FRONTEND_DIR ${CMAKE_CURRENT_SOURCE_DIR}/frontend)
add_test(NAME golden_invalid COMMAND ${FRONTEND_DIR}/golden.sh $<TARGET_FILE:cnnc> invalid ${FRONTEND_DIR}/invalid)
add_test(NAME golden_valid COMMAND ${FRONTEND_DIR}/golden.sh $<TARGET_FILE:cnnc> valid ${FRONTEND_DIR}/valid)
set_tests_properties(golden_invalid golden_valid PROPERTIES LABELS "golden;parser")
# Refresh the expected files after an intended change (then review `git diff`).
add_custom_target(update-golden
  COMMAND ${FRONTEND_DIR}/golden.sh $<TARGET_FILE:cnnc> update ${FRONTEND_DIR}/invalid
  COMMAND ${FRONTEND_DIR}/golden.sh $<TARGET_FILE:cnnc> update ${FRONTEND_DIR}/valid
  DEPENDS cnnc)
add_test(NAME cli_contract COMMAND ${FRONTEND_DIR}/cli.sh $<TARGET_FILE:cnnc> ${PROJECT_SOURCE_DIR}/models/fruit.cnn)
set_tests_properties(cli_contract PROPERTIES LABELS "parser;unit")

# Fuzz harness: the corpus replays in every test run (under the sanitizers
# when CNNC_SANITIZE=ON); a libFuzzer build needs clang and CNNC_FUZZ=ON.
add_executable(fuzz_frontend_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_frontend.c)
target_link_libraries(fuzz_frontend_replay PRIVATE cnnc_summary)
target_compile_options(fuzz_frontend_replay PRIVATE ${CNNC_WARNINGS})
add_test(NAME fuzz_frontend_corpus COMMAND fuzz_frontend_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus)
set_tests_properties(fuzz_frontend_corpus PROPERTIES LABELS "fuzz;parser")
if(CNNC_FUZZ)
  add_executable(fuzz_frontend ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_frontend.c)
  target_compile_definitions(fuzz_frontend PRIVATE CNNC_LIBFUZZER)
  target_compile_options(fuzz_frontend PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_frontend PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_frontend PRIVATE cnnc_summary)
endif()
