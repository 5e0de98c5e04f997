# cnn_add_model(NAME FILE.cnn [GOLDEN DIR])
#
# Compiles FILE.cnn with cnnc into ${CMAKE_CURRENT_BINARY_DIR}/NAME.c and
# NAME.h (NAME must be the `model` name written in the file) and adds:
#   NAME          the trainer executable (NAME.c built with CNN_TRAINER_MAIN,
#                 so it defines main() = cnn_trainer_main(&NAME_model, ...))
#   NAME_model    a static library with the model only (no main), for tests
#                 and for programs that embed the network
# The C file is regenerated when the .cnn file or cnnc changes.
#
# The same file serves this source tree (targets cnnc and cnnrt, under the
# names cnnc::cnnc and cnnc::cnnrt below) and an installed cnnc, whose
# cnncConfig.cmake imports those two names before including it; there,
# CNNC_NATIVE (default ON) picks -march=native for the models as here.
#
# With GOLDEN DIR (the committed generated/ folder of this project) it also adds
#   golden_c_NAME              a test (label golden) that fails when DIR/NAME.c
#                              or DIR/NAME.h differs from what cnnc emits now
#   refresh-generated-NAME     a target that rewrites them, and the umbrella
#   refresh-generated          target for every model
#
# The same file is the golden test's script: run with -P, it emits into a
# scratch folder and compares (see the end of this file).

if(CMAKE_SCRIPT_MODE_FILE AND DEFINED CNN_GOLDEN_SCRIPT)
  # ---- script mode: cmake -DCNN_GOLDEN_SCRIPT=1 -DCNNC=... -DSRC=... -DNAME=...
  #      -DGOLDEN=... -DSCRATCH=... -P CnnModel.cmake
  file(REMOVE_RECURSE "${SCRATCH}")
  file(MAKE_DIRECTORY "${SCRATCH}")
  execute_process(COMMAND "${CNNC}" "${SRC}" -o "${SCRATCH}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cnnc failed on ${SRC}")
  endif()
  set(stale "")
  foreach(ext c h)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
                    "${GOLDEN}/${NAME}.${ext}" "${SCRATCH}/${NAME}.${ext}" RESULT_VARIABLE differs)
    if(NOT differs EQUAL 0)
      list(APPEND stale "${NAME}.${ext}")
      find_program(DIFF diff)
      if(DIFF)
        execute_process(COMMAND ${DIFF} -u "${GOLDEN}/${NAME}.${ext}" "${SCRATCH}/${NAME}.${ext}"
                        OUTPUT_VARIABLE d)
        string(SUBSTRING "${d}" 0 4000 d)
        message("${d}")
      endif()
    endif()
  endforeach()
  if(stale)
    message(FATAL_ERROR "generated/${stale} differ from what cnnc emits now for ${SRC}. If the change "
                        "is intended, run `cmake --build BUILD --target refresh-generated` and commit generated/.")
  endif()
  message("generated/${NAME}.c and ${NAME}.h match cnnc's output")
  return()
endif()

set(CNN_MODEL_CMAKE_FILE ${CMAKE_CURRENT_LIST_FILE})
if(TARGET cnnc AND NOT TARGET cnnc::cnnc)
  add_executable(cnnc::cnnc ALIAS cnnc)
  add_library(cnnc::cnnrt ALIAS cnnrt)
endif()

# How generated models are compiled (cnnc build uses the same): tuned for
# this CPU when CNNC_NATIVE, and a*b+c contracted to FMA instructions, which
# ISO C mode (-std=c11) otherwise forbids in gcc. Contraction is exact per
# operation (one rounding instead of two), deterministic, and not fast-math.
set(CNN_MODEL_C_FLAGS -ffp-contract=fast)
if(CNNC_NATIVE)
  list(APPEND CNN_MODEL_C_FLAGS -march=native)
endif()

function(cnn_add_model NAME FILE)
  cmake_parse_arguments(ARG "" "GOLDEN" "" ${ARGN})
  get_filename_component(src "${FILE}" ABSOLUTE)
  set(out_c ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.c)
  set(out_h ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.h)
  add_custom_command(
    OUTPUT ${out_c} ${out_h}
    COMMAND cnnc::cnnc ${src} -o ${CMAKE_CURRENT_BINARY_DIR}
    DEPENDS cnnc::cnnc ${src}
    COMMENT "cnnc ${FILE} -> ${NAME}.c"
    VERBATIM)

  # The model alone: for tests and embedding.
  add_library(${NAME}_model STATIC ${out_c} ${out_h})
  target_include_directories(${NAME}_model PUBLIC ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${NAME}_model PUBLIC cnnc::cnnrt)

  # The trainer.
  add_executable(${NAME} ${out_c} ${out_h})
  target_compile_definitions(${NAME} PRIVATE CNN_TRAINER_MAIN)
  target_include_directories(${NAME} PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${NAME} PRIVATE cnnc::cnnrt)

  foreach(t ${NAME}_model ${NAME})
    # Generated code must stay warning-free (-Wall -Wextra -Werror in this
    # project; CNNC_WARNINGS is unset in a user's project).
    target_compile_options(${t} PRIVATE ${CNNC_WARNINGS} ${CNN_MODEL_C_FLAGS})
  endforeach()

  if(ARG_GOLDEN)
    add_test(NAME golden_c_${NAME}
             COMMAND ${CMAKE_COMMAND} -DCNN_GOLDEN_SCRIPT=1 -DCNNC=$<TARGET_FILE:cnnc::cnnc> -DSRC=${src}
                     -DNAME=${NAME} -DGOLDEN=${ARG_GOLDEN}
                     -DSCRATCH=${CMAKE_CURRENT_BINARY_DIR}/golden_${NAME}
                     -P ${CNN_MODEL_CMAKE_FILE})
    set_tests_properties(golden_c_${NAME} PROPERTIES LABELS "golden")
    add_custom_target(refresh-generated-${NAME}
                      COMMAND cnnc::cnnc ${src} -o ${ARG_GOLDEN}
                      DEPENDS cnnc::cnnc ${src}
                      COMMENT "cnnc ${FILE} -> ${ARG_GOLDEN}/${NAME}.c"
                      VERBATIM)
    if(NOT TARGET refresh-generated)
      add_custom_target(refresh-generated)
    endif()
    add_dependencies(refresh-generated refresh-generated-${NAME})
  endif()
endfunction()
