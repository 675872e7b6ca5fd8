# Installs kiln from BUILD_DIR into SCRATCH/prefix, builds SOURCE_DIR/examples against it with
# find_package(kiln), and runs the example. Fails on the first step that fails.
file(REMOVE_RECURSE "${SCRATCH}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
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
