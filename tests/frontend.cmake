# frontend tests; see tests/CMakeLists.txt
