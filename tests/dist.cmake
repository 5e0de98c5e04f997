# Data-parallel training under mpirun (tests/dist/dist_test.py, docs/distributed.md).
#   dist_equal2     1 process and mpirun -np 2: bitwise equal weights,
#                   checkpoint and history.csv       [mpi, e2e: the default run]
#   dist_equal      -np 1, 2, 4 (oversubscribed), 1 and 2 threads      [mpi]
#   dist_resume     2 epochs on 4 ranks, --resume on 2: bitwise equal  [mpi]
#   dist_kill       SIGKILL of a rank: the job ends within 30 s naming
#                   it, the checkpoint resumes                         [mpi]
#   dist_mismatch   a rank with other data refused, naming the
#                   difference; --strict with a corrupt image read by
#                   rank 1 names it and the rank; an error every rank
#                   reaches is printed once, one rank's own names it   [mpi]
#   dist_share      the first pass shared by 2 and 3 ranks (share_test.c):
#                   cache, skip list and split byte for byte those of one
#                   process, each rank decodes about 1/P of the files
#                                                  [mpi: the default run]
# The others are labelled mpi and slow (ctest -L mpi). Each skips (77) when mpirun is missing or cnnc was built without MPI.
if(SYSTEM_PYTHON3)
  set(CNN_DIST_WORK ${CMAKE_CURRENT_BINARY_DIR}/dist_work)
  foreach(case equal2 equal resume kill mismatch)
    add_test(NAME dist_${case}
             COMMAND ${SYSTEM_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/dist/dist_test.py ${case}
                     --cnnc $<TARGET_FILE:cnnc> --work ${CNN_DIST_WORK})
    set_tests_properties(dist_${case} PROPERTIES LABELS "mpi;slow" SKIP_RETURN_CODE 77 TIMEOUT 900)
  endforeach()
  set_tests_properties(dist_equal2 PROPERTIES LABELS "mpi;e2e")
endif()

# share_test links the MPI backend whole, as `cnnc build --mpi` links a trainer.
if(SYSTEM_PYTHON3 AND TARGET cnnrt_mpi)
  add_executable(share_test ${CMAKE_CURRENT_SOURCE_DIR}/dist/share_test.c)
  target_compile_options(share_test PRIVATE ${CNNC_WARNINGS})
  target_link_libraries(share_test PRIVATE -Wl,--whole-archive cnnrt_mpi -Wl,--no-whole-archive
                        cnn_data_fixtures)
  add_test(NAME dist_share
           COMMAND ${SYSTEM_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/dist/dist_test.py share
                   --share-test $<TARGET_FILE:share_test> --work ${CNN_DIST_WORK})
  set_tests_properties(dist_share PROPERTIES LABELS "mpi" SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
