# trainer tests; see tests/CMakeLists.txt and docs/trainer.md.
#   trainer_optim        optimizers vs hand-computed Keras updates          [unit]
#   trainer_metrics      accuracy, precision, recall, AUC, confusion matrix [unit]
#   trainer_class_weight Keras's class_weight: loss and dL/dlogits vs PyTorch
#                        (binary and softmax), balanced weights     [unit parity]
#   trainer_adamw_clip   weight_decay, clipnorm (per tensor), clipvalue,
#                        global_clipnorm over 10 steps vs Keras's rules in
#                        double and torch AdamW, clip_grad_norm_   [unit parity]
#   trainer_lr_schedules step, cosine (warm-up) and plateau lr over 20 epochs
#                        against torch.optim.lr_scheduler and Keras's
#                        ReduceLROnPlateau                          [unit parity]
#   trainer_checkpoint   safetensors layouts, CRC, .prev, checkpoint refusals,
#                        history.csv and curves.svg                         [unit]
#   trainer_torch_read   that safetensors file read by hand in Python/torch [unit]
#   trainer_preview      preview's PNG grid, pixel for pixel, against the
#                        training loader's images of the same epoch         [unit]
#   summary_agrees       cnnc summary and NAME summary print the same text    [unit]
#   trainer_cli          flags, --help defaults, user errors exit 1         [unit]
#   trainer_synthetic    train on images the test draws; files, predict,
#                        evaluate                                           [e2e]
#   trainer_patterns     softmax model, RMSprop, early stopping              [e2e]
#   trainer_threads      1 and 2 threads: bitwise identical weights          [e2e]
#   trainer_resume       SIGKILL mid-epoch + --resume == uninterrupted       [e2e]
#   trainer_corrupt      corrupt / other model's / other settings' checkpoint [e2e]
#   trainer_nan          a diverging run stops with a message and exits 1; the
#                        last finite checkpoint is kept and resumes with a
#                        lower --lr; predict/evaluate refuse NaN weights     [e2e]
#   trainer_memory       IDX claims and gzip bombs, a progressive JPEG over
#                        --memory, eight large PNGs on eight decode threads
#                        within --memory (ulimit -v, RSS)                    [e2e]
#   trainer_lock         a second trainer on one run folder is refused with
#                        the holder's pid; a killed one leaves no stale lock [e2e]
#   trainer_schedule     lr column, progress line, plateau resumed bitwise   [e2e]
#   trainer_class_weight_run  balanced weights printed, weights of 1 == none,
#                        a resume keeps the weights                  [e2e]
#   trainer_transfer     trunk trained on 2 kinds, re-headed for 3 (--init
#                        --init-partial, frozen trunk): frozen tensors
#                        bitwise unchanged, the head learns            [e2e]
#   trainer_pytorch      weights load into the --emit pytorch module, same
#                        predictions                                        [e2e parity]
#   trainer_rough_*      Ctrl-C saves and resumes bitwise (in the last step
#                        too: exit 130), early stopping's label, flag
#                        ranges and hints, predict FOLDER, evaluate --json,
#                        progress width, cnnc -o DIR                         [e2e]
#   trainer_fruit        models/fruit.cnn on fruits-dev (skips without it)   [e2e]
#   trainer_train_pytorch scripts/train_pytorch.py, 1 epoch on fruits-dev: the
#                        trainer's split and first-epoch losses (skips without
#                        the data or torch)                                  [e2e]
#   fuzz_checkpoint_corpus  the checkpoint fuzzer's corpus replayed     [fuzz;unit]
#   trainer_fashion      models/fashion.cnn >= 90% test accuracy             [slow]
set(CNN_TRAINER_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/trainer)
set(CNN_TRAINER_WORK ${CMAKE_CURRENT_BINARY_DIR}/trainer_work)
file(MAKE_DIRECTORY ${CNN_TRAINER_WORK})

# Two small test networks with trainers (targets `stripes`, `patterns`).
cnn_add_model(stripes ${CNN_TRAINER_TESTS}/stripes.cnn)
cnn_add_model(patterns ${CNN_TRAINER_TESTS}/patterns.cnn)
cnn_add_model(diverge ${CNN_TRAINER_TESTS}/diverge.cnn)
cnn_add_model(trunk ${CNN_TRAINER_TESTS}/trunk.cnn)
cnn_add_model(rehead ${CNN_TRAINER_TESTS}/rehead.cnn)

# cnnc summary and NAME summary print the same text (one printer).
add_test(NAME summary_agrees
         COMMAND ${CNN_TRAINER_TESTS}/summary_agrees.sh $<TARGET_FILE:cnnc>
                 ${CNN_TRAINER_TESTS}/stripes.cnn $<TARGET_FILE:stripes>
                 ${CNN_TRAINER_TESTS}/patterns.cnn $<TARGET_FILE:patterns>
                 ${CNN_TRAINER_TESTS}/rehead.cnn $<TARGET_FILE:rehead>
                 ${CMAKE_SOURCE_DIR}/models/fruit.cnn $<TARGET_FILE:fruit>
                 ${CMAKE_SOURCE_DIR}/models/fashion.cnn $<TARGET_FILE:fashion>)
set_tests_properties(summary_agrees PROPERTIES LABELS "unit")

# preview's grid against the training loader's own images.
add_executable(test_trainer_preview ${CNN_TRAINER_TESTS}/test_preview.c)
target_link_libraries(test_trainer_preview PRIVATE stripes_model cnnrt)
target_compile_options(test_trainer_preview PRIVATE ${CNNC_WARNINGS})
target_compile_definitions(test_trainer_preview PRIVATE _POSIX_C_SOURCE=200809L)
add_test(NAME trainer_preview COMMAND test_trainer_preview ${CNN_TRAINER_WORK})
set_tests_properties(trainer_preview PROPERTIES LABELS "unit" ENVIRONMENT "OMP_NUM_THREADS=1")

foreach(t optim metrics checkpoint schedule adamw_clip)
  add_executable(test_trainer_${t} ${CNN_TRAINER_TESTS}/test_${t}.c)
  target_link_libraries(test_trainer_${t} PRIVATE cnnrt)
  target_compile_options(test_trainer_${t} PRIVATE ${CNNC_WARNINGS})
  target_compile_definitions(test_trainer_${t} PRIVATE _POSIX_C_SOURCE=200809L)
endforeach()
# Keras's class_weight with two generated losses (binary, softmax) from the codegen nets.
add_executable(test_trainer_class_weight ${CNN_TRAINER_TESTS}/test_class_weight.c ${CNN_CODEGEN_OUT}/gc_conv.c
               ${CNN_CODEGEN_OUT}/gc_frozen.c)
target_include_directories(test_trainer_class_weight PRIVATE ${CNN_RUNTIME_INCLUDES} ${CNN_CODEGEN_OUT})
target_link_libraries(test_trainer_class_weight PRIVATE cnnrt OpenMP::OpenMP_C m)
target_compile_options(test_trainer_class_weight PRIVATE ${CNNC_WARNINGS})
add_test(NAME trainer_optim COMMAND test_trainer_optim)
add_test(NAME trainer_metrics COMMAND test_trainer_metrics)
add_test(NAME trainer_checkpoint COMMAND test_trainer_checkpoint ${CNN_TRAINER_WORK})
set_tests_properties(trainer_optim trainer_metrics trainer_checkpoint PROPERTIES LABELS "unit")
set_tests_properties(trainer_checkpoint PROPERTIES FIXTURES_SETUP trainer_st_file)

if(SYSTEM_PYTHON3)
  add_test(NAME trainer_class_weight
           COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/class_weight_ref.py $<TARGET_FILE:test_trainer_class_weight>)
  set_tests_properties(trainer_class_weight PROPERTIES LABELS "unit;parity" SKIP_RETURN_CODE 77)
  add_test(NAME trainer_adamw_clip
           COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/adamw_clip_ref.py $<TARGET_FILE:test_trainer_adamw_clip>)
  set_tests_properties(trainer_adamw_clip PROPERTIES LABELS "unit;parity" SKIP_RETURN_CODE 77)
  add_test(NAME trainer_lr_schedules
           COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/schedule_ref.py $<TARGET_FILE:test_trainer_schedule>)
  set_tests_properties(trainer_lr_schedules PROPERTIES LABELS "unit;parity" SKIP_RETURN_CODE 77)
  add_test(NAME trainer_torch_read
           COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/st_load.py --tiny ${CNN_TRAINER_WORK}/w.safetensors)
  set_tests_properties(trainer_torch_read PROPERTIES LABELS "unit" FIXTURES_REQUIRED trainer_st_file)

  # trainer_NAME CASE LABELS TRAINER [extra arguments]
  function(cnn_trainer_case NAME LABELS TRAINER)
    add_test(NAME trainer_${NAME}
             COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/trainer_test.py ${NAME}
                     --trainer $<TARGET_FILE:${TRAINER}> --work ${CNN_TRAINER_WORK} ${ARGN})
    set_tests_properties(trainer_${NAME} PROPERTIES LABELS "${LABELS}" SKIP_RETURN_CODE 77 TIMEOUT 900)
  endfunction()
  # The small test networks run on one thread (results do not depend on the
  # count; trainer_threads checks that): two-thread OpenMP barriers crawl when
  # ctest -j2 already keeps both cores busy.
  cnn_trainer_case(cli "unit" stripes)
  cnn_trainer_case(synthetic "e2e" stripes)
  cnn_trainer_case(patterns "e2e" patterns)
  cnn_trainer_case(threads "e2e" stripes)
  cnn_trainer_case(bench_data "e2e" stripes)
  cnn_trainer_case(resume "e2e" stripes)
  cnn_trainer_case(corrupt "e2e" stripes --other $<TARGET_FILE:patterns>)
  cnn_trainer_case(nan "e2e" stripes --other $<TARGET_FILE:diverge>)
  cnn_trainer_case(lock "e2e" stripes)
  cnn_trainer_case(memory "e2e" stripes)
  cnn_trainer_case(schedule "e2e" stripes)
  cnn_trainer_case(class_weight_run "e2e" stripes)
  cnn_trainer_case(transfer "e2e" trunk --other $<TARGET_FILE:rehead>)
  cnn_trainer_case(pytorch "e2e;parity" stripes --cnnc $<TARGET_FILE:cnnc> --cnn ${CNN_TRAINER_TESTS}/stripes.cnn)
  set_tests_properties(trainer_cli trainer_synthetic trainer_patterns trainer_corrupt trainer_nan trainer_lock trainer_memory trainer_pytorch
                       trainer_transfer trainer_schedule trainer_class_weight_run trainer_bench_data PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1")
  # Stopping and rough edges (rough_edges_test.py): Ctrl-C, early stopping's
  # label, flag ranges and hints, predict FOLDER, evaluate --json, a missing
  # default data path, the progress line's width, cnnc's output folders.
  foreach(case interrupt interrupt_twice interrupt_last early_label flags predict_folder evaluate_json default_data
          progress_width cnnc_output)
    add_test(NAME trainer_rough_${case}
             COMMAND ${SYSTEM_PYTHON3} ${CNN_TRAINER_TESTS}/rough_edges_test.py ${case}
                     --trainer $<TARGET_FILE:stripes> --work ${CNN_TRAINER_WORK} --cnnc $<TARGET_FILE:cnnc>)
    set_tests_properties(trainer_rough_${case} PROPERTIES LABELS "e2e" SKIP_RETURN_CODE 77 TIMEOUT 900
                         ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
  cnn_trainer_case(fruit "e2e" fruit --data ${CNNC_SHARED_DATA}/fruits-dev --epochs 8)
  cnn_trainer_case(train_pytorch "e2e" fruit --data ${CNNC_SHARED_DATA}/fruits-dev --cnnc $<TARGET_FILE:cnnc>
                   --cnn ${CMAKE_SOURCE_DIR}/models/fruit.cnn)
  if(TARGET fashion)
    cnn_trainer_case(fashion "slow" fashion)
  endif()
endif()
