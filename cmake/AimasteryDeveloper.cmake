# Settings for aimastery's own tests, benchmarks and examples. Applied per target, never globally.

# aimastery_developer_target(<target> [NATIVE] [COMPILE_ONLY])
#   strict warnings (errors with AIMASTERY_WERROR), the sanitizers chosen by AIMASTERY_SANITIZE, and with
#   NATIVE (benchmarks and examples) -march=native when AIMASTERY_NATIVE is on. The dependencies' headers
#   come in as system headers (imported targets), so their warnings never fail the build; the library's own
#   headers do, through every target that includes them. COMPILE_ONLY (targets that are compiled, never run:
#   the header and docs checks) leaves out the sanitizers and compiles with -fsyntax-only (cmake/compile_only.sh).
#   With AIMASTERY_UNITY_BUILD every other target is compiled as one translation unit: the sources of one test
#   program instantiate the same templates, and compiling those once instead of once per file makes the
#   sanitizer builds about three times faster. The header and docs checks stay one file each (each header must
#   compile on its own).
set(aimastery_developer_dir ${CMAKE_CURRENT_LIST_DIR})
function(aimastery_developer_target target)
  cmake_parse_arguments(arg "NATIVE;COMPILE_ONLY" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wnon-virtual-dtor)
  if(AIMASTERY_WERROR)
    # GCC 12's -Warray-bounds, -Wrestrict and -Wmaybe-uninitialized report std::string concatenations and
    # std::optional<Eigen matrix> members inlined at -O2 that are
    # correct (GCC bugs 105329, 105651): they stay warnings there.
    target_compile_options(${target} PRIVATE -Werror
      $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-error=array-bounds -Wno-error=restrict -Wno-error=maybe-uninitialized>)
  endif()
  if(arg_COMPILE_ONLY)
    set_target_properties(${target} PROPERTIES CXX_COMPILER_LAUNCHER ${aimastery_developer_dir}/compile_only.sh)
  elseif(AIMASTERY_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE BATCH UNITY_BUILD_BATCH_SIZE 0)
  endif()
  if(AIMASTERY_SANITIZE AND NOT arg_COMPILE_ONLY)
    string(REPLACE ";" "," sanitizers "${AIMASTERY_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${sanitizers} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${sanitizers})
    # Internal invariants are checked in the sanitizer builds.
    target_compile_definitions(${target} PRIVATE AIMASTERY_ENABLE_ASSERTS=1)
  endif()
  if(arg_NATIVE AND AIMASTERY_NATIVE)
    # GCC 12's AVX-512 intrinsics initialise their "undefined" vectors from themselves (_mm512_undefined_pd),
    # which -Wuninitialized and -Wmaybe-uninitialized report in every Eigen reduction and exp inlined with
    # -march=native (GCC bug 105593). The builds without -march=native keep both warnings.
    target_compile_options(${target} PRIVATE -march=native
      $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-maybe-uninitialized -Wno-uninitialized>)
  endif()
endfunction()
