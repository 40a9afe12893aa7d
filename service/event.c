/* event.c - under construction */
