# sources of libcnnrt (train); see runtime/CMakeLists.txt
