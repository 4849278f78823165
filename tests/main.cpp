// The one doctest main of the aimastery tests. A run whose filters select no test case fails: a ctest that
// selects its cases by name or file (--test-case=MiniLM*, --source-file=...) must not pass by running nothing
// once a case is renamed or moved.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

int selected_test_cases = -1;  // -1 until a run ends (a query such as --list-test-cases runs nothing)

/// A listener that keeps the number of test cases the filters selected.
struct SelectedTestCases : doctest::IReporter {
  explicit SelectedTestCases(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected_test_cases = static_cast<int>(stats.numTestCasesPassingFilters);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("selected_test_cases", 0, SelectedTestCases);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (status == 0 && selected_test_cases == 0 && !context.shouldExit()) {
    std::fputs("[doctest] no test case matches the filters given: nothing was tested\n", stderr);
    return 1;
  }
  return status;
}
