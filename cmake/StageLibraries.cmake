# shimwatch_stage(NAME SOURCES ... [STAGES stage ...] [LINKS lib ...]
#                 [PUBLIC_LINKS lib ...])
#
# A static library shimwatch_NAME for one stage of the pipeline, linked with
# only the stages it names (which must come before it: probe, decode, http,
# kubernetes, attribute, classify, aggregate, dispatch, sink, config,
# pipeline, metrics, check, agent; report and scan beside them), and its layering
# check: shimwatch_NAME_layering, an executable made of every object of the
# stage (whole archive) and of nothing but what the stage declares. A call
# into a stage it does not name (a layering cycle always has one) is left
# undefined there, and the build stops naming the symbol and the stage.
#
# Public headers: include/shimwatch/<stage>.hpp, one per stage (every other
# header there is the common layer's); a stage's other headers stay in its
# folder under src/. Includes that break this are refused by
# tests/lint/header_layering.py, which reads the STAGES of these calls.
function(shimwatch_stage name)
  cmake_parse_arguments(STAGE "" "" "SOURCES;STAGES;LINKS;PUBLIC_LINKS" ${ARGN})
  add_library(shimwatch_${name} STATIC ${STAGE_SOURCES})
  target_include_directories(shimwatch_${name}
    PUBLIC "${PROJECT_SOURCE_DIR}/include"
    PRIVATE "${PROJECT_SOURCE_DIR}/src" "${PROJECT_SOURCE_DIR}/bpf")
  set(stages)
  foreach(stage IN LISTS STAGE_STAGES)
    list(APPEND stages shimwatch_${stage})
  endforeach()
  target_link_libraries(shimwatch_${name}
    PUBLIC ${stages} ${STAGE_PUBLIC_LINKS}
    PRIVATE ${STAGE_LINKS})
  add_executable(shimwatch_${name}_layering "${PROJECT_SOURCE_DIR}/cmake/layering_main.cpp")
  target_link_libraries(shimwatch_${name}_layering
    PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,shimwatch_${name}>")
endfunction()
