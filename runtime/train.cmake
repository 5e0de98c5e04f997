# sources of libcnnrt (train); see runtime/CMakeLists.txt
# The trainer binary's runtime: command line, training loop, optimizers,
# metrics, safetensors and checkpoints, progress, history, plots, bench.
list(APPEND CNNRT_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/trainer.c
  ${CMAKE_CURRENT_LIST_DIR}/train_loop.c
  ${CMAKE_CURRENT_LIST_DIR}/train_step.c
  ${CMAKE_CURRENT_LIST_DIR}/bench.c
  ${CMAKE_CURRENT_LIST_DIR}/optim.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.c
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint.c
  ${CMAKE_CURRENT_LIST_DIR}/history.c
  ${CMAKE_CURRENT_LIST_DIR}/plot.c
  ${CMAKE_CURRENT_LIST_DIR}/progress.c)

# The optimizer loops call sqrtf; with errno semantics gcc keeps them scalar
# (a square root that may set errno cannot be vectorized). Their arguments
# are never negative, and no IEEE result changes: only errno is given up.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/optim.c PROPERTIES COMPILE_OPTIONS -fno-math-errno)
