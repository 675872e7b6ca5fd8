# Installs kiln from BUILD_DIR into SCRATCH/prefix, builds SOURCE_DIR/examples against it with
# find_package(kiln), and runs the example. Fails on the first step that fails.
file(REMOVE_RECURSE "${SCRATCH}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${SCRATCH}/prefix")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples" -B "${SCRATCH}/build" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${SCRATCH}/prefix" -DCMAKE_BUILD_TYPE=Release
    # The same compiler flags as the kiln build: a sanitizer build's libraries need its runtime.
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build "${SCRATCH}/build")
run("${SCRATCH}/build/train_in_memory")
if(NOT EXISTS "${SCRATCH}/prefix/bin/kiln")
  message(FATAL_ERROR "the kiln binary was not installed")
endif()
# The installed kiln finds its OpenCV codec plugin (lib/kiln/, io/opencv_codecs.hpp): PGM
# images (plain-text PNM, which only OpenCV decodes in kiln) preprocess with none skipped.
foreach(class dark bright)
  file(WRITE "${SCRATCH}/pgm/${class}/image.pgm" "P2\n2 2\n255\n0 9\n200 255\n")
endforeach()
# LD_DEBUG=files shows which plugin it opened: the installed one, not the build tree's.
run(${CMAKE_COMMAND} -E env LD_DEBUG=files "${SCRATCH}/prefix/bin/kiln" preprocess
    "${SCRATCH}/pgm" --size 2x2 --channels 1 -o "${SCRATCH}/pgm.h5")
if(NOT out MATCHES "2 images" OR out MATCHES "skipped")
  message(FATAL_ERROR "the installed kiln did not decode PGM images:\n${out}\n${err}")
endif()
if(NOT err MATCHES "file=${SCRATCH}/prefix/[^ ]*/kiln/libkiln_opencv_codecs.so")
  message(FATAL_ERROR "the installed kiln did not open the installed codec plugin:\n${err}")
endif()
