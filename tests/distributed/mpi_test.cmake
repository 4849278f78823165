# aimastery_add_mpi_test(<folder name> RANKS <n>... [ARGS ...])
#   Registers the test program test_<folder name> with CTest once per rank count, launched by mpirun
#   (`<name>_np<n>`, label `mpi`). With Open MPI: --oversubscribe (more ranks than cores on a small
#   machine) and the runtime and TCP transport kept on loopback; root is allowed through Open MPI's
#   environment variables (CI runs as root in a container). Included by each MPI test folder (it sets
#   AIMASTERY_MPIEXEC_FLAGS and AIMASTERY_MPIEXEC_ENVIRONMENT in that folder).
if(MPIEXEC_EXECUTABLE AND NOT DEFINED AIMASTERY_MPIEXEC_OPEN_MPI)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE version ERROR_QUIET)
  if(version MATCHES "Open MPI|OpenRTE")
    set(AIMASTERY_MPIEXEC_OPEN_MPI ON CACHE INTERNAL "mpiexec is Open MPI's")
  else()
    set(AIMASTERY_MPIEXEC_OPEN_MPI OFF CACHE INTERNAL "mpiexec is Open MPI's")
  endif()
endif()

set(AIMASTERY_MPIEXEC_FLAGS "")
set(AIMASTERY_MPIEXEC_ENVIRONMENT "")
if(AIMASTERY_MPIEXEC_OPEN_MPI)
  set(AIMASTERY_MPIEXEC_FLAGS --oversubscribe --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
  set(AIMASTERY_MPIEXEC_ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endif()

# Under AddressSanitizer, LeakSanitizer reports the allocations Open MPI keeps past MPI_Finalize (in
# components it has unloaded, so no suppression can name them): leak detection is off for the MPI tests;
# every other ASan and UBSan check stays on.
if(AIMASTERY_SANITIZE MATCHES "address")
  list(APPEND AIMASTERY_MPIEXEC_ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

function(aimastery_add_mpi_test name)
  cmake_parse_arguments(arg "" "" "RANKS;ARGS" ${ARGN})
  set(flags ${AIMASTERY_MPIEXEC_FLAGS})
  set(environment "${AIMASTERY_MPIEXEC_ENVIRONMENT}")
  foreach(ranks ${arg_RANKS})
    add_test(NAME ${name}_np${ranks}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ranks} ${flags} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:test_${name}> ${MPIEXEC_POSTFLAGS} ${arg_ARGS})
    set_tests_properties(${name}_np${ranks} PROPERTIES LABELS mpi TIMEOUT 120 ENVIRONMENT "${environment}")
  endforeach()
endfunction()
