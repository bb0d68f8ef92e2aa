"""SOAP 1.1 (IEC 61968-100 WSDL pattern): our WSGI server and its endpoints, zeep clients.

The only package importing waitress (``runner``) and zeep (``client``). Server side:
:mod:`~evgrid.adapters.soap.server` (the app), :mod:`~evgrid.adapters.soap.security`
(principals and credentials), :mod:`~evgrid.adapters.soap.tls` (TLS files, demo
certificates), :mod:`~evgrid.adapters.soap.evos` (the operation system's endpoint).
"""
