"""Protocol packages, the only modules that talk to the outside, each the sole importer of its library.

- :mod:`.soap`: SOAP 1.1 services and clients of IEC 61968-100 (waitress, zeep, httpx);
- :mod:`.esb`: the ESB binding over AMQP 0-9-1 (pika) and its topology;
- :mod:`.iec61850`: MMS clients and servers of IEC 61850 (pyiec61850);
- :mod:`.store`: the database (SQLAlchemy, Alembic), and the services' own SQLite files.
"""
