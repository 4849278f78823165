"""The status page of `aimastery serve` in a real headless Chromium.

    peer_status_page.py AIMASTERY_BINARY DIR [--screenshot PNG]

DIR holds what the C++ test "writes a registry for the client peers" wrote. This script starts
`aimastery serve` on a copy of DIR/registry (prediction cache on) and Debian's chromium through
chromedriver (selenium), opens http://HOST:PORT/ and checks what the page shows:

  before traffic   ready; the header: no request waiting for a worker, none refused, 2 models; one row
                   per loaded version: forest 1 (badge champion; the model cell lists versions 1, 2 and
                   both aliases) and mlp 1; every request count 0
  during traffic   a steady stream of requests: the request rate of forest becomes > 0
  after traffic    the counts equal the requests sent (serving_peers.Traffic, plus the stream), latency
                   p50/p99 are numbers with p50 <= p99, the cache hit rate is hits / lookups as sent, the
                   drift cell shows 100 % drift; a request to the challenger adds the row forest 2

With --screenshot PNG (or AIMASTERY_STATUS_SCREENSHOT=PNG) the page is saved as a PNG at the end.
Both processes are stopped at the end, also on failure. Exit 0: all agree; 1: a mismatch; 77: selenium,
chromium or chromedriver is missing (ctest reports the test skipped).
"""
import os
import shutil
import sys
import tempfile
import threading
import time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

from serving_peers import Traffic, check, copy_registry, infer, start_server, stop


def find_browser():
    """(chromium, chromedriver) paths; exits 77 (skipped) when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        print("skipped: no chromium or chromedriver (apt-get install chromium chromium-driver)")
        sys.exit(77)
    return chromium, driver


def start_browser(chromium, driver):
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,600", "--hide-scrollbars"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    print("browser:", browser.capabilities.get("browserVersion"))
    return browser


def rows(browser):
    """{(model, version): {field: text}} of the table as rendered (the cells' innerText), and the aliases
    shown as badges; read in one script, so that a redraw cannot interleave."""
    rendered = browser.execute_script("""
        return Array.from(document.querySelectorAll("#models tbody tr")).map(tr => ({
          model: tr.dataset.model, version: tr.dataset.version,
          cells: Object.fromEntries(Array.from(tr.cells).map(td => [td.dataset.field, td.innerText])),
          badges: Array.from(tr.querySelectorAll(".badge")).map(b => b.dataset.alias)}));""")
    return {(r["model"], r["version"]): {**r["cells"], "badges": r["badges"]} for r in rendered}


def wait_for(browser, what, predicate, timeout=12):
    deadline = time.monotonic() + timeout
    while True:
        table = rows(browser)
        try:
            good = predicate(table)
        except (KeyError, ValueError):
            good = False
        if good or time.monotonic() > deadline:
            check(good, f"{what}: {table}")
            return table
        time.sleep(0.2)


class Stream:
    """While entered: single-row mlp requests, up to 50 a second, from a thread; `sent` counts the answered
    ones. The rows (100 + k, 0, 0, 0) are unlike the Traffic's; a second stream repeats the first one's
    rows, which the cache then answers."""

    def __init__(self, address):
        self.address, self.sent, self.running, self.thread = address, 0, False, None

    def __enter__(self):
        self.running = True
        self.thread = threading.Thread(target=self.send)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    def send(self):
        while self.running:
            status, _ = infer(self.address, "mlp", [[100.0 + self.sent, 0, 0, 0]], datatype="FP32")
            self.sent += status == 200
            time.sleep(0.02)


def number(text):
    return float(text.split()[0])


def main():
    binary, folder = sys.argv[1], sys.argv[2]
    screenshot = os.environ.get("AIMASTERY_STATUS_SCREENSHOT", "")
    if "--screenshot" in sys.argv:
        screenshot = sys.argv[sys.argv.index("--screenshot") + 1]
    chromium, driver = find_browser()
    processes, browser = [], None
    with tempfile.TemporaryDirectory() as scratch:
        try:
            server, address = start_server(binary, copy_registry(folder, scratch), ["--cache-size", "10000"])
            processes.append(server)
            browser = start_browser(chromium, driver)
            browser.get(f"http://{address}/")
            check(browser.title == "aimastery serve", f"the page loads: title {browser.title!r}")
            table = wait_for(browser, "two rows, no requests yet",
                             lambda t: set(t) == {("forest", "1"), ("mlp", "1")} and
                             all(r["requests"] == "0" for r in t.values()))
            summary = browser.find_element(By.ID, "summary").text
            check("0 waiting for a worker \u00b7 0 refused (503) \u00b7 2 models" in summary,
                  f"the header shows the HTTP layer's load: {summary!r}")
            forest = table[("forest", "1")]
            check(forest["badges"] == ["champion"], f"forest 1 carries the champion badge: {forest['badges']}")
            check("versions 1, 2" in forest["model"] and "challenger \u2192 2" in forest["model"],
                  f"the model cell lists the registry's versions and aliases: {forest['model']!r}")
            check(forest["p50"] == "-" and forest["drift"] == "-", "no latency or drift before traffic")
            check(browser.find_element(By.ID, "state").text == "ready", "the header says ready")

            # A steady stream until the page shows a rate, then the known traffic.
            t = Traffic(address)
            stream = Stream(address)
            with stream:
                wait_for(browser, "the mlp request rate rises above 0 under traffic",
                         lambda t_: number(t_[("mlp", "1")]["rate"]) > 0)
            t.run()
            status, _ = infer(address, "forest", t.rows(3), version="challenger")
            check(status == 200, "a request to the challenger")

            mlp_requests = t.requests("mlp") + stream.sent
            forest_hits = t.cache_hits["forest"]
            forest_lookups = forest_hits + t.rows_predicted["forest"]
            table = wait_for(
                browser, "the counts equal what was sent",
                lambda t_: (t_[("forest", "1")]["requests"] == str(t.requests("forest")) and
                            t_[("mlp", "1")]["requests"] == str(mlp_requests) and
                            t_[("forest", "2")]["requests"] == "1" and t_[("forest", "1")]["drift"] != "-"))
            forest = table[("forest", "1")]
            check(forest["errors"] == "1", f"forest: 1 error (the wrong shape): {forest['errors']}")
            p50, p99 = number(forest["p50"]), number(forest["p99"])
            check(0 < p50 <= p99, f"forest latency p50 {p50} ms <= p99 {p99} ms")
            hit_rate = 100 * forest_hits / forest_lookups
            check(forest["cache"] == f"{hit_rate:.1f} %", f"forest cache hit rate {forest['cache']} = "
                  f"{forest_hits} / {forest_lookups}")
            check(forest["drift"] == "100 % drift", f"forest drift: {forest['drift']}")
            challenger = table[("forest", "2")]
            check(challenger["badges"] == ["challenger"], "forest 2 carries the challenger badge")
            check(challenger["batch"] == "3.00", f"forest 2: its own mean batch, 3 rows: {challenger['batch']}")
            total = t.requests("forest") + 1 + mlp_requests
            check(browser.find_element(By.ID, "total-requests").text == str(total),
                  f"the total is {total} requests")
            if screenshot:
                with Stream(address):  # four refreshes under traffic: the rates and their history show it
                    time.sleep(8.5)
                    browser.save_screenshot(screenshot)
                print("screenshot:", screenshot)
        except BaseException:
            if browser is not None:
                print("page text:\n" + browser.find_element(By.TAG_NAME, "body").text)
            raise
        finally:
            if browser is not None:
                browser.quit()
            for p in processes:
                stop(p)


if __name__ == "__main__":
    main()
