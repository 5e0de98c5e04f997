# back ends of cnnc: target_sources(cnnc PRIVATE ...) and their settings
target_sources(cnnc PRIVATE ${CMAKE_CURRENT_LIST_DIR}/emit_pytorch.c)
