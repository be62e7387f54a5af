// The layering check's program: never run, only linked (see
// cmake/StageLibraries.cmake).
int main() {
  return 0;
}
