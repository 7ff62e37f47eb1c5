"""Documents in the suppliers' own standards (PEPPOL BIS 3, openTRANS 2.1): the joint order
written as each standard's order, and each standard's order response and despatch advice read
into the data of the contract's events. Pure: no I/O but reading the standards' schemas."""
