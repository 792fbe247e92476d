#include <map>
#include <string>
#include <vector>
#include <thread>
#include <chrono>
#include <cstdio>
int main(int argc, char **argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 20;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
  auto work = [&](int id) {
    std::map<std::string, std::vector<int>> m;
    unsigned long i = 0;
    while (std::chrono::steady_clock::now() < end && i < 200000000UL) {
      m[std::to_string((i * 2654435761u) % 50000) + "k" + std::to_string(id)].push_back((int)i);
      if (i % 3 == 0) m.erase(m.begin());
      i++;
    }
    printf("thread %d: %zu keys\n", id, m.size());
  };
  std::thread a(work, 1), b(work, 2);
  a.join(); b.join();
  return 0;
}
