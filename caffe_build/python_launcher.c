/* The packed runtime's `python`: CPython's own main over libpython3.11.so.
 *
 * Debian's /usr/bin/python3.11 has the interpreter linked in statically, and
 * pycaffe (through Boost.Python) needs libpython3.11.so anyway, so packing both
 * carried the interpreter twice.  This launcher is the interpreter's ordinary
 * entry point, linked against the shared library instead (2 MiB less in the
 * archive).  Built by caffe_build/pack_runtime.py with the local gcc.
 */
#include <Python.h>

int main(int argc, char **argv) {
    return Py_BytesMain(argc, argv);
}
