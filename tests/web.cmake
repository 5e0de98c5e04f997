# cnnc export --web tests; see tests/web/web_test.py and docs/deploy.md.
#   web_browser    train fruit one epoch on drawn images, export --web, serve
#                  the folder on 127.0.0.1, open index.html?image=URL in
#                  headless Chromium (DevTools protocol, scripts/cdp.py) for
#                  gray/RGB/RGBA PNGs of several sizes: #result ==
#                  `fruit predict --json` (1e-5); Tab + Enter open the file
#                  chooser, three files chosen give three cards; screenshots (desktop, phone
#                  width) kept in build/tests/web_work/browser/  [browser]
#                  (skips without /usr/bin/chromium: scripts/install-deps.sh browser)
#   web_browser_allkinds  the same for tests/export/allkinds.cnn (every layer
#                  kind and preprocessing step; 3 classes, one named with
#                  UTF-8, quotes and markup)                      [browser]
#   web_bench      scripts/compare_web.py --test: cnnc export --web against ONNX
#                  Runtime Web (npm onnxruntime-web into build/ortweb) in
#                  headless Chromium, outputs within 1e-5; images/s and the
#                  bytes downloaded are reported, not asserted   [bench]
#   web_toolchain  without clang's wasm32 target or wasm-ld, export --web says
#                  what to install and writes nothing             [unit]
set(CNN_WEB_WORK ${CMAKE_CURRENT_BINARY_DIR}/web_work)
file(MAKE_DIRECTORY ${CNN_WEB_WORK})
if(SYSTEM_PYTHON3)
  set(CNN_WEB_RUN ${SYSTEM_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/web/web_test.py --cnnc $<TARGET_FILE:cnnc>
      --work ${CNN_WEB_WORK})
  add_test(NAME web_browser
           COMMAND ${CNN_WEB_RUN} browser --trainer $<TARGET_FILE:fruit> --cnn ${CMAKE_SOURCE_DIR}/models/fruit.cnn)
  add_test(NAME web_browser_allkinds
           COMMAND ${CNN_WEB_RUN} browser --tag browser_allkinds --trainer $<TARGET_FILE:allkinds>
                   --cnn ${CMAKE_CURRENT_SOURCE_DIR}/export/allkinds.cnn --classes 3)
  set_tests_properties(web_browser web_browser_allkinds PROPERTIES LABELS "browser" SKIP_RETURN_CODE 77
                       TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
  add_test(NAME web_bench
           COMMAND ${SYSTEM_PYTHON3} ${CMAKE_SOURCE_DIR}/scripts/compare_web.py --test --install --seconds 1
                   --repeat 1 --cnnc $<TARGET_FILE:cnnc> --ort-dir ${CMAKE_BINARY_DIR}/ortweb
                   --work ${CNN_WEB_WORK}/bench)
  set_tests_properties(web_bench PROPERTIES LABELS "bench" SKIP_RETURN_CODE 77 TIMEOUT 900 RUN_SERIAL TRUE)
  add_test(NAME web_toolchain
           COMMAND ${CNN_WEB_RUN} toolchain --trainer $<TARGET_FILE:allkinds>
                   --cnn ${CMAKE_CURRENT_SOURCE_DIR}/export/allkinds.cnn)
  set_tests_properties(web_toolchain PROPERTIES LABELS "unit" SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=1")
endif()
