# cmake -DMODE=<package|subdirectory|fetchcontent> -DSOURCE=<aimastery src> -DBUILD=<aimastery build>
#       -DWORK=<scratch dir> -P run_consumer.cmake
# Configures, builds and runs tests/consumer/project the chosen way.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(configure_args -S ${SOURCE}/tests/consumer/project -B ${WORK}/build -DAIMASTERY_CONSUME=${MODE}
    -DAIMASTERY_SOURCE=${SOURCE} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK}/prefix)
endif()
run(${CMAKE_COMMAND} ${configure_args})
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/consumer)
