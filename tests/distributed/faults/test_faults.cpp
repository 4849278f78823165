// Faults: a rank given a different number of features is caught before any work, on every rank; a
// rank that dies mid-run (the test case run by fault_rank_dies.sh only) makes the job end, not hang.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aimastery/ml/deep_learning.hpp"
#include "distributed/mpi_support.hpp"
#include "support.hpp"

using namespace aimastery;

TEST_CASE("a rank with a different number of features is caught on every rank before any work") {
  Communicator world = Communicator::world();
  const bool odd = world.rank() == world.size() - 1;
  const Matrix<double> X = test::normal_matrix<double>(12, odd ? 4 : 3, 1);
  const IndexVector y = IndexVector::Zero(12);
  NeuralNetwork<double> net;
  net.add<Dense<double>>(X.cols(), 2, DenseOptions{.seed = 1});
  net.set_loss<CrossEntropyLoss<double>>().set_optimizer<SGD<double>>();
  const std::vector<double> before(
      net.parameters()[0].parameter->value.data(),
      net.parameters()[0].parameter->value.data() + net.parameters()[0].parameter->value.size());
  CHECK_THROWS_NAMING(fit_data_parallel(world, net, X, y), InvalidArgument,
                      "fit_data_parallel: ranks disagree on the number of features: 3 to 4");
  CHECK(net.optimizer().steps() == 0);  // no step was taken anywhere
  CHECK(std::equal(before.begin(), before.end(), net.parameters()[0].parameter->value.data()));

  ShardedDenseIndex<double> index(world, odd ? 4 : 3);
  CHECK_THROWS_NAMING(index.search(Matrix<double>::Ones(1, odd ? 4 : 3), 1), InvalidArgument,
                      "ShardedDenseIndex::search: ranks disagree on the dimension: 3 to 4");
  world.barrier();  // every rank is still in step: the next collective works
}

// Run only by fault_rank_dies.sh (doctest's --no-skip): the last rank exits abruptly in the middle of a
// training run, as a crashed or killed process would; the others are then blocked in MPI_Allreduce.
TEST_CASE("fault: a rank dies in the middle of data-parallel training" * doctest::skip()) {
  Communicator world = Communicator::world();
  const Matrix<double> X = test::normal_matrix<double>(4000, 8, 1);
  const IndexVector y = IndexVector::Zero(4000);
  NeuralNetwork<double> net;
  net.add<Dense<double>>(8, 2, DenseOptions{.seed = 1});
  net.set_loss<CrossEntropyLoss<double>>().set_optimizer<SGD<double>>();
  const bool victim = world.rank() == world.size() - 1;
  Index batches = 0;
  FitOptions<double> options{.epochs = 1000000, .batch_size = 8};
  options.on_epoch_end = [&](const EpochLog<double>& log) {
    if (victim && log.epoch == 2) {
      // AIMASTERY_FAULT: "exit" (status 3), "exit0" (status 0, without MPI_Finalize) or "kill" (SIGKILL).
      const char* how = std::getenv("AIMASTERY_FAULT");
      const std::string fault = how ? how : "exit";
      std::fprintf(stderr, "rank %d: dying (%s) at epoch %lld\n", world.rank(), fault.c_str(),
                   static_cast<long long>(log.epoch));
      if (fault == "kill") std::raise(SIGKILL);
      std::_Exit(fault == "exit0" ? 0 : 3);
    }
    ++batches;
  };
  fit_data_parallel(world, net, X, y, options);  // never returns: the job ends first
  FAIL("training finished although a rank died");
}
