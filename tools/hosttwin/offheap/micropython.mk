# The twins' C module (see offheap.c), added to the 32-bit build by tools/run_mp.py.
OFFHEAP_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(OFFHEAP_DIR)/offheap.c
