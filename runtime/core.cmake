# sources of libcnnrt (core); see runtime/CMakeLists.txt
list(APPEND CNNRT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/reference.c ${CMAKE_CURRENT_LIST_DIR}/init.c)
