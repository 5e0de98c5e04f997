# sources of libcnnrt (data); see runtime/CMakeLists.txt
# Image decoding (libjpeg-turbo, libpng), IDX (zlib, through PNG::PNG's link
# interface), datasets, preprocessing, augmentation, the uint8 cache, the loader.
list(APPEND CNNRT_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/image_decode.c
  ${CMAKE_CURRENT_LIST_DIR}/jpeg.c
  ${CMAKE_CURRENT_LIST_DIR}/png.c
  ${CMAKE_CURRENT_LIST_DIR}/idx.c
  ${CMAKE_CURRENT_LIST_DIR}/preprocess.c
  ${CMAKE_CURRENT_LIST_DIR}/augment.c
  ${CMAKE_CURRENT_LIST_DIR}/cache.c
  ${CMAKE_CURRENT_LIST_DIR}/folder.c
  ${CMAKE_CURRENT_LIST_DIR}/decode_pass.c
  ${CMAKE_CURRENT_LIST_DIR}/split.c
  ${CMAKE_CURRENT_LIST_DIR}/dataset.c
  ${CMAKE_CURRENT_LIST_DIR}/loader.c
  ${CMAKE_CURRENT_LIST_DIR}/image_load.c)
