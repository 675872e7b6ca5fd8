# A tree with nn/bad.cpp including io/ must fail the layering check; one without it must pass.
file(REMOVE_RECURSE "${SCRATCH}")
file(WRITE "${SCRATCH}/nn/good.hpp" "#include \"nn/tensor.hpp\"\n#include <vector>\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${SCRATCH} -P ${CHECKER} RESULT_VARIABLE clean_code
                ERROR_VARIABLE clean_err)
if(NOT clean_code EQUAL 0)
  message(FATAL_ERROR "the checker rejected a clean tree:\n${clean_err}")
endif()
file(WRITE "${SCRATCH}/nn/bad.cpp" "#include \"nn/tensor.hpp\"\n#include \"io/h5.hpp\"\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${SCRATCH} -P ${CHECKER} RESULT_VARIABLE bad_code
                ERROR_VARIABLE bad_err)
if(bad_code EQUAL 0)
  message(FATAL_ERROR "the checker accepted nn/bad.cpp including io/h5.hpp")
endif()
if(NOT bad_err MATCHES "nn/bad.cpp")
  message(FATAL_ERROR "the checker's message does not name the file:\n${bad_err}")
endif()
