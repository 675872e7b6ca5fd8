# A tree with nn/bad.cpp including io/, or with the pipeline core including a job, must fail the
# layering check naming the file; one without either must pass.
file(REMOVE_RECURSE "${SCRATCH}")

# Runs the checker on SCRATCH; `want` is PASS or FAIL, `file` the one a failure must name.
function(expect_checker want file why)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${SCRATCH} -P ${CHECKER} RESULT_VARIABLE code
                  ERROR_VARIABLE err)
  if(want STREQUAL "PASS" AND NOT code EQUAL 0)
    message(FATAL_ERROR "the checker rejected ${why}:\n${err}")
  elseif(want STREQUAL "FAIL" AND code EQUAL 0)
    message(FATAL_ERROR "the checker accepted ${why}")
  elseif(want STREQUAL "FAIL" AND NOT err MATCHES "${file}")
    message(FATAL_ERROR "the checker's message does not name ${file}:\n${err}")
  endif()
endfunction()

file(WRITE "${SCRATCH}/nn/good.hpp" "#include \"nn/tensor.hpp\"\n#include <vector>\n")
expect_checker(PASS "" "a clean tree")
file(WRITE "${SCRATCH}/nn/bad.cpp" "#include \"nn/tensor.hpp\"\n#include \"io/h5.hpp\"\n")
expect_checker(FAIL "nn/bad.cpp" "nn/bad.cpp including io/h5.hpp")
file(REMOVE "${SCRATCH}/nn/bad.cpp")

# A job may include the core and another job; the core may include no job.
file(WRITE "${SCRATCH}/pipeline/search/search.cpp"
     "#include \"pipeline/loader.hpp\"\n#include \"pipeline/training/training.hpp\"\n")
expect_checker(PASS "" "a job including the core and another job")
file(WRITE "${SCRATCH}/pipeline/loader.cpp" "#include \"pipeline/inference/evaluator.hpp\"\n")
expect_checker(FAIL "pipeline/loader.cpp" "pipeline/loader.cpp including a job (inference/)")
