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

