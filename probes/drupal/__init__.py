"""The drupal probe kind: the probe (``probe``), drush's outputs read (``drush_requirements``,
``drush_status``, ``text``) and graded (``grading``)."""
