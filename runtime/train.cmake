# sources of libcnnrt (train); see runtime/CMakeLists.txt
list(APPEND CNNRT_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/optim.c)
