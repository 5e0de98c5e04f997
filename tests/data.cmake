# data tests; see tests/CMakeLists.txt
