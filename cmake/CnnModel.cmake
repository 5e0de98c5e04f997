# cnn_add_model(NAME FILE.cnn): see cmake/CnnModel.cmake
