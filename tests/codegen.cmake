# codegen tests; see tests/CMakeLists.txt
