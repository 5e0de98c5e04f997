# back ends of cnnc: target_sources(cnnc PRIVATE ...) and their settings
target_sources(cnnc PRIVATE ${CMAKE_CURRENT_LIST_DIR}/emit_pytorch.c)

# The C back end: the emitter core, the drivers and descriptor, one file per
# layer kind, and `cnnc build`.
target_sources(cnnc PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/emitter.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_c.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_conv2d.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_conv_pool.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_conv_pool_avx512.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_conv_bn_fold.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_conv_winograd.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_pool.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_dense.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_batchnorm.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_bn_pool.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_dropout.c
  ${CMAKE_CURRENT_LIST_DIR}/emit_activation.c
  ${CMAKE_CURRENT_LIST_DIR}/build.c)
# `cnnc build` compiles against the runtime of this build tree.
target_compile_definitions(cnnc PRIVATE
  CNNC_RUNTIME_INCLUDE_DIR="${PROJECT_SOURCE_DIR}/runtime"
  CNNC_RUNTIME_LIBRARY="$<TARGET_FILE:cnnrt>")
# (cnnrt is part of the default build; cnnc does not depend on it, so the
# compiler builds even while the runtime does not.)
