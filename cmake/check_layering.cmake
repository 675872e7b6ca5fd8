# Fails when a source file includes against the module direction (nn ← io ← pipeline ← apps), pulls
# a dependency into a module that must not see it, or when the pipeline's core (the flow graph, its
# stages, packing, views, the loader: pipeline/*.{hpp,cpp} and pipeline/transforms/) includes one of
# the jobs built on it (pipeline/dataset, training, search, inference, report, bench). Run on every build (target
# kiln_layering) and by a test that feeds it a violation.
#   cmake -DROOT=<tree to check> -P check_layering.cmake
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source tree> -P check_layering.cmake")
endif()

# module → include prefixes it must not use
set(forbidden_nn "io/;pipeline/;apps/;opencv2/;hdf5;tbb/flow_graph")
set(forbidden_io "pipeline/;apps/;tbb/")
set(forbidden_pipeline "apps/")

set(violations "")
foreach(module nn io pipeline)
  file(GLOB_RECURSE sources "${ROOT}/${module}/*.hpp" "${ROOT}/${module}/*.cpp")
  foreach(source IN LISTS sources)
    file(STRINGS "${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" header "${line}")
      foreach(prefix IN LISTS forbidden_${module})
        string(FIND "${header}" "${prefix}" at)
        if(at EQUAL 0)
          file(RELATIVE_PATH rel "${ROOT}" "${source}")
          string(APPEND violations "\n  ${rel}: #include \"${header}\" (${module}/ may not depend on ${prefix})")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()

# The pipeline's core knows no job: a job may use another job, the core none.
set(pipeline_jobs "pipeline/dataset/;pipeline/training/;pipeline/search/;pipeline/inference/;pipeline/report/;pipeline/bench/")
file(GLOB core_sources "${ROOT}/pipeline/*.hpp" "${ROOT}/pipeline/*.cpp"
     "${ROOT}/pipeline/transforms/*.hpp" "${ROOT}/pipeline/transforms/*.cpp")
foreach(source IN LISTS core_sources)
  file(STRINGS "${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" header "${line}")
    foreach(prefix IN LISTS pipeline_jobs)
      string(FIND "${header}" "${prefix}" at)
      if(at EQUAL 0)
        file(RELATIVE_PATH rel "${ROOT}" "${source}")
        string(APPEND violations "\n  ${rel}: #include \"${header}\" (the pipeline core may not depend on the job ${prefix})")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "includes run against the module direction nn <- io <- pipeline <- apps, or the pipeline core includes a job:${violations}")
endif()
