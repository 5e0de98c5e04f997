# sources of libcnnrt (core); see runtime/CMakeLists.txt
