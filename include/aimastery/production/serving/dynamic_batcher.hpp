#pragma once
/// \file
/// DynamicBatcher: concurrent requests for one model gathered into one batched prediction.
///
///   DynamicBatcher batcher([&](const Matrix<double>& X) { return model.predict(X); },
///                          {.max_batch_size = 32, .max_delay = std::chrono::microseconds(2000)});
///   Matrix<double> Y = batcher.predict(X);     // from any number of threads; Y = model.predict(X)
///
/// A model that predicts n rows at once costs much less than n single-row calls (one pass over the
/// trees' or layers' memory, one GEMM instead of n GEMVs). Callers block in predict(); one worker
/// thread per batcher does
///
///   wait for a first request; its arrival time t₀
///   wait until rows queued ≥ max_batch_size, or every admitted caller is queued (or predicting on
///   its own thread, below), or the clock reaches t₀ + max_delay
///   take requests in arrival order while their rows fit in max_batch_size (always at least one)
///   Y = f([X₁; X₂; ...; X_m])   one call on the stacked rows
///   hand each caller its own rows of Y
///
/// so a lone request waits at most max_delay, and under load every batch is full. Admission: a caller
/// that holds a Ticket (taken with admit() before its own preparation, e.g. parsing and cache lookups)
/// announces that it will predict soon; when every ticket holder is already queued, no one else is on
/// the way and the batch goes at once instead of waiting out max_delay (a server knows its requests in
/// flight). Callers without tickets only meet the deadline. Batching happens only under load: a caller that
/// finds the batcher idle (no batch being predicted, nothing queued) and no other ticket holder on the
/// way predicts on its own thread at once, without waking the worker (with 1 client, batching then costs
/// nothing); requests arriving meanwhile queue for the worker as usual. Because the model is applied row by
/// row (row i of f(X) depends only on row i of X), each caller gets exactly what an unbatched call would
/// return. A request larger than max_batch_size is predicted alone. An exception of f is handed to every
/// caller of that batch. Synchronisation: one mutex and one condition variable for the queue; each caller
/// waits on its own std::promise, fulfilled outside the lock.
///
/// DynamicBatcher is BasicDynamicBatcher<>, a class template so that its members (threads, futures) are
/// compiled only in the files that use a batcher.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

struct DynamicBatcherOptions {
  Index max_batch_size = 32;                      ///< rows per batched call (≥ 1)
  std::chrono::microseconds max_delay{2000};      ///< longest wait of a request for company (≥ 0)
  std::function<void(Index rows)> on_batch = {};  ///< called with each batch's rows (metrics)
};

template <class = void>
class BasicDynamicBatcher {
 public:
  using Predict = std::function<Matrix<double>(const Matrix<double>&)>;

  BasicDynamicBatcher(Predict predict, DynamicBatcherOptions options = {})
      : predict_(std::move(predict)), options_(std::move(options)) {
    require(static_cast<bool>(predict_), "DynamicBatcher", "the predict function is empty");
    require(options_.max_batch_size >= 1, "DynamicBatcher",
            [&] { return "max_batch_size must be >= 1, got " + std::to_string(options_.max_batch_size); });
    require(options_.max_delay.count() >= 0, "DynamicBatcher", "max_delay must be >= 0");
    worker_ = std::thread([this] { run(); });
  }
  BasicDynamicBatcher(const BasicDynamicBatcher&) = delete;
  BasicDynamicBatcher& operator=(const BasicDynamicBatcher&) = delete;

  /// Finishes the queued requests, then stops the worker.
  ~BasicDynamicBatcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

  /// Announces a caller that will predict soon; the batch waits for ticket holders, not for the clock,
  /// while some are not yet queued. Release the ticket (destroy it) after predict returns.
  class Ticket {
   public:
    explicit Ticket(BasicDynamicBatcher& b) : b_(&b) {
      std::lock_guard lock(b_->mutex_);
      ++b_->admitted_;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() {
      bool queued = false;
      {
        std::lock_guard lock(b_->mutex_);
        --b_->admitted_;
        queued = !b_->queue_.empty();
      }
      // The queued callers may now be all that is coming. With nothing queued the worker waits only for a
      // first request: waking it would cost a context switch a request and change nothing.
      if (queued) b_->wake_.notify_all();
    }

   private:
    BasicDynamicBatcher* b_;
  };
  [[nodiscard]] Ticket admit() { return Ticket(*this); }

  /// predict(X) computed in a batch with other callers' rows; blocks until it is done.
  [[nodiscard]] Matrix<double> predict(Matrix<double> X) {
    {
      std::unique_lock lock(mutex_);
      require(!stopping_, "DynamicBatcher::predict", "the batcher is stopping");
      // Idle, nothing queued and at most one ticket (this caller's, if it holds one): no company is coming.
      if (busy_ == 0 && queue_.empty() && admitted_ <= 1) {
        ++busy_;
        ++inline_;
        lock.unlock();
        struct Release {  // also when predict_ throws
          BasicDynamicBatcher& b;
          ~Release() {
            bool queued = false;
            {
              std::lock_guard relock(b.mutex_);
              --b.busy_;
              --b.inline_;
              queued = !b.queue_.empty();
            }
            if (queued) b.wake_.notify_all();  // requests queued meanwhile may now be all that is coming
          }
        } release{*this};
        Matrix<double> Y = predict_(X);
        require(Y.rows() == X.rows(), "DynamicBatcher", "the predict function returned the wrong number of rows");
        if (options_.on_batch) options_.on_batch(X.rows());
        return Y;
      }
    }
    Pending p{std::move(X), {}, Clock::now()};
    std::future<Matrix<double>> result = p.result.get_future();
    {
      std::lock_guard lock(mutex_);
      require(!stopping_, "DynamicBatcher::predict", "the batcher is stopping");
      queued_rows_ += p.X.rows();
      queue_.push_back(std::move(p));
    }
    wake_.notify_all();
    return result.get();
  }

  [[nodiscard]] const DynamicBatcherOptions& options() const noexcept { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Matrix<double> X;
    std::promise<Matrix<double>> result;
    Clock::time_point arrival;
  };

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      const Clock::time_point deadline = queue_.front().arrival + options_.max_delay;
      wake_.wait_until(lock, deadline, [&] {
        return stopping_ || queued_rows_ >= options_.max_batch_size ||
               (admitted_ > 0 && queue_.size() + inline_ >= admitted_);
      });

      std::vector<Pending> batch;
      Index rows = 0;
      do {
        rows += queue_.front().X.rows();
        queued_rows_ -= queue_.front().X.rows();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() && rows + queue_.front().X.rows() <= options_.max_batch_size);

      ++busy_;
      lock.unlock();
      serve(batch, rows);
      lock.lock();
      --busy_;
    }
  }

  /// Stacks the rows, predicts once, and splits the result among the callers.
  void serve(std::vector<Pending>& batch, Index rows) {
    try {
      Matrix<double> Y;
      if (batch.size() == 1) {
        Y = predict_(batch.front().X);
      } else {
        Matrix<double> X(rows, batch.front().X.cols());
        Index at = 0;
        for (const auto& p : batch) {
          require(p.X.cols() == X.cols(), "DynamicBatcher::predict", [&] {
            return "requests of one batch have " + std::to_string(X.cols()) + " and " + std::to_string(p.X.cols()) +
                   " columns";
          });
          X.middleRows(at, p.X.rows()) = p.X;
          at += p.X.rows();
        }
        Y = predict_(X);
      }
      require(Y.rows() == rows, "DynamicBatcher", "the predict function returned the wrong number of rows");
      if (options_.on_batch) options_.on_batch(rows);
      Index at = 0;
      for (auto& p : batch) {
        p.result.set_value(Y.middleRows(at, p.X.rows()));
        at += p.X.rows();
      }
    } catch (...) {
      // A batch of one request may fail alone; in a larger batch, each request is retried alone so that
      // one caller's bad rows do not fail the others.
      if (batch.size() == 1) {
        batch.front().result.set_exception(std::current_exception());
        return;
      }
      for (auto& p : batch) {
        try {
          p.result.set_value(predict_(p.X));
        } catch (...) {
          p.result.set_exception(std::current_exception());
        }
      }
    }
  }

  Predict predict_;
  DynamicBatcherOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  Index queued_rows_ = 0;
  std::size_t admitted_ = 0;  ///< live tickets
  std::size_t busy_ = 0;      ///< predictions running: the worker's batch and callers predicting inline
  std::size_t inline_ = 0;    ///< callers predicting on their own thread (not queued, not on the way)
  bool stopping_ = false;
  std::thread worker_;
};
using DynamicBatcher = BasicDynamicBatcher<>;

}  // namespace aimastery
