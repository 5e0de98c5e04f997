# parity tests; see tests/CMakeLists.txt
