# trainer tests; see tests/CMakeLists.txt
