# sources of libcnnrt (data); see runtime/CMakeLists.txt
