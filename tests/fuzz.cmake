# Fuzz targets, all in tests/fuzz/ (see tests/fuzz/README.md). Each corpus
# replays in every test run (under the sanitizers when CNNC_SANITIZE=ON);
# CNNC_FUZZ=ON (clang) also builds the libFuzzer targets.  [fuzz]
set(CNN_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
# The front end: scanner, parser, checker and summary on any text.
cnn_fuzz_target(fuzz_frontend ${CNN_FUZZ_DIR}/fuzz_frontend.c ${CNN_FUZZ_DIR}/corpus_frontend cnnc_summary)
# The image decoders (libjpeg-turbo, libpng, the format sniffer).
cnn_fuzz_target(fuzz_decode ${CNN_FUZZ_DIR}/fuzz_decode.c ${CNN_FUZZ_DIR}/corpus_decode cnnrt)
# The IDX reader (plain and gzipped, headers that claim more than the data).
cnn_fuzz_target(fuzz_idx ${CNN_FUZZ_DIR}/fuzz_idx.c ${CNN_FUZZ_DIR}/corpus_idx cnnrt ZLIB::ZLIB)
# The safetensors reader and the checkpoint loader (re-fixing the CRC so the
# checks behind it are reached).
cnn_fuzz_target(fuzz_checkpoint ${CNN_FUZZ_DIR}/fuzz_checkpoint.c ${CNN_FUZZ_DIR}/corpus_checkpoint cnnrt)
target_include_directories(fuzz_checkpoint_replay PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/trainer)
if(CNNC_FUZZ)
  target_include_directories(fuzz_checkpoint PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/trainer)
endif()
