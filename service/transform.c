/* transform.c - under construction */
